"""ECP5 carry cells, their exact model, and a builder of carry chains.

An ECP5 ``CCU2C`` holds two "halves", each a LUT4 plus one bit of the fast carry chain. A half
with inputs A, B, C and D = 1 computes, from its ``INIT`` (Yosys' ``ecp5/ccu2c_sim.vh``, which
this module follows bit for bit):

* the propagate ``P = INIT[8 + {C, B, A}]``: any function of A, B, C;
* the generate ``G = INIT[{B, A}]``: any function of A and B;
* the sum ``S = P ^ CIN`` and the carry ``COUT = P ? CIN : G``.

So one half adds ``A + f(B, C)`` for any f, a conditional complement included, with no LUT of
its own; a half with ``P = 0`` passes the carry out as its sum and starts a new carry from
``G``, which lets unrelated adders share one chain. nextpnr adds a feed-in cell (two logic
cells) at the start of every chain and a feed-out cell wherever a chain's last carry drives
logic, so fewer, longer chains cost less.

:class:`CCU2C` is the cell: an ``Instance`` when elaborated for a platform whose ``family``
is ``"ecp5"``, otherwise (simulation, other devices) Amaranth logic that computes exactly what
the cell computes. :func:`build_chains` lays out lists of :class:`Half` as chains of cells.
"""

from dataclasses import dataclass, field
from pathlib import Path

from amaranth.hdl import Cat, Const, Instance, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["CCU2C", "ccu2c_model", "Half", "Adder", "build_chains"]


def ccu2c_model():
    """The Verilog text of a behavioural ``CCU2C`` model (``CCU2C.v`` beside this module),
    for simulating the Verilog of ``ecp5``-arithmetic cores outside an ECP5 flow. It
    computes what :class:`CCU2C` computes."""
    return Path(__file__).with_name("CCU2C.v").read_text()


def _check_init(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 16:
        raise ValueError(f"{name} must be a 16-bit integer, not {value!r}")
    return value


class CCU2C(wiring.Component):
    """Two bits of an ECP5 carry chain (the ``CCU2C`` primitive), or its exact model.

    ``S0 = LUT4_0 ^ CIN`` and ``S1 = LUT4_1 ^ carry``; each half's carry is
    ``LUT4 ? CIN : LUT2`` where ``LUT4 = INIT[{D, C, B, A}]`` and ``LUT2 = INIT[{B, A}]``.
    ``inject1_x=True`` (the cell's ``INJECT1_x = "YES"``) cuts the half's sum from the incoming
    carry and makes its carry ``LUT4 & CIN``. Purely combinational.
    """

    CIN: In(1)
    A0: In(1)
    B0: In(1)
    C0: In(1)
    D0: In(1)
    A1: In(1)
    B1: In(1)
    C1: In(1)
    D1: In(1)
    S0: Out(1)
    S1: Out(1)
    COUT: Out(1)

    def __init__(self, init0, init1, *, inject1_0=False, inject1_1=False, carry_in=True,
                 carry_out=True):
        self.init0 = _check_init("init0", init0)
        self.init1 = _check_init("init1", init1)
        self.inject1_0 = bool(inject1_0)
        self.inject1_1 = bool(inject1_1)
        # The first cell of a chain that starts its own carry leaves CIN unconnected, and the
        # last leaves COUT unconnected (the model reads CIN as 0).
        self.carry_in = bool(carry_in)
        self.carry_out = bool(carry_out)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        if getattr(platform, "family", None) == "ecp5":
            ports = {}
            if self.carry_in:
                ports["i_CIN"] = self.CIN
            if self.carry_out:
                ports["o_COUT"] = self.COUT
            m.submodules.cell = Instance(
                "CCU2C",
                p_INIT0=Const(self.init0, 16), p_INIT1=Const(self.init1, 16),
                p_INJECT1_0="YES" if self.inject1_0 else "NO",
                p_INJECT1_1="YES" if self.inject1_1 else "NO",
                i_A0=self.A0, i_B0=self.B0, i_C0=self.C0, i_D0=self.D0,
                i_A1=self.A1, i_B1=self.B1, i_C1=self.C1, i_D1=self.D1,
                o_S0=self.S0, o_S1=self.S1, **ports)
            return m

        def half(init, inject, a, b, c, d, cin, s):
            lut4 = Signal(name=f"{s.name}_lut4")
            lut2 = Signal(name=f"{s.name}_lut2")
            m.d.comb += [lut4.eq(Const(init, 16).bit_select(Cat(a, b, c, d), 1)),
                         lut2.eq(Const(init & 0xF, 4).bit_select(Cat(a, b), 1))]
            if inject:
                m.d.comb += s.eq(lut4)
                return lut4 & cin
            m.d.comb += s.eq(lut4 ^ cin)
            return Mux(lut4, cin, lut2)

        carry = Signal()
        cin = self.CIN if self.carry_in else Const(0, 1)
        m.d.comb += carry.eq(half(self.init0, self.inject1_0, self.A0, self.B0, self.C0,
                                  self.D0, cin, self.S0))
        m.d.comb += self.COUT.eq(half(self.init1, self.inject1_1, self.A1, self.B1, self.C1,
                                      self.D1, carry, self.S1))
        return m


def _bit(value):
    """A 1-bit operand: an Amaranth value, the constants 0/1, or a :class:`Half` laid out
    earlier (its sum)."""
    if isinstance(value, Half):
        return value.sum
    if isinstance(value, int):
        if value not in (0, 1):
            raise ValueError(f"a constant input of a half must be 0 or 1, not {value!r}")
        return Const(value, 1)
    value = Value.cast(value)
    if len(value) != 1:
        raise ValueError(f"a half's input must be 1 bit wide, not {len(value)}")
    return value


@dataclass
class Half:
    """One LUT4 + carry bit: ``propagate(a, b, c)`` and ``generate(a, b)`` are Python
    functions of the input bits, tabulated into the cell's ``INIT``. ``propagate=None`` means
    P = 0: the half's sum is its incoming carry, and its generate starts the next carry (the
    chain builder sets it). An input may be another half laid out before this one, meaning
    its sum. ``sum`` is created by :func:`build_chains`."""
    a: object = 0
    b: object = 0
    c: object = 0
    propagate: object = None
    generate: object = None
    sum: Signal = field(default=None, repr=False)

    @property
    def free(self):
        return self.propagate is None

    def init(self):
        """INIT of the half with D tied to 1: P in bits 8-15, G in bits 0-3."""
        p = g = 0
        for k in range(8):
            a, b, c = k & 1, (k >> 1) & 1, (k >> 2) & 1
            if self.propagate is not None and self.propagate(a, b, c):
                p |= 1 << k
        for k in range(4):
            a, b = k & 1, (k >> 1) & 1
            if self.generate is not None and self.generate(a, b):
                g |= 1 << k
        return (p << 8) | g


@dataclass
class Adder:
    """One addition laid out as consecutive halves, with the carry it needs at its start
    (a 1-bit value or the constants 0/1), complemented if ``carry_inverted``: the half that
    starts the carry complements for free."""
    halves: list
    carry_in: object
    carry_inverted: bool = False


def build_chains(m, name, adders, *, max_halves):
    """Lay out ``adders`` (in order) as carry chains of at most ``max_halves`` halves each
    (or one adder, if it is longer), add the cells to ``m`` and give every half its ``sum`` signal.

    Each chain starts with a half of P = 0 that makes its first adder's carry-in, so the
    chain needs no carry from outside (its first CIN stays unconnected, and
    :func:`madvq.gen.synth.trim_carry_feeds` spares it nextpnr's feed-in cell). Consecutive
    adders share a chain when they fit: the last half of one starts the next one's carry, and
    when that half computes a sum bit of its own (its P is not 0), a half that does only that
    is added. Returns the number of chains."""
    if max_halves < 3:
        raise ValueError(f"max_halves must be at least 3, not {max_halves!r}")
    chains = []
    current = []        # halves of the chain being filled
    for adder in adders:
        if not adder.halves:
            raise ValueError("an adder needs at least one half")
        extra = (0 if current[-1].free else 1) if current else 0
        if not current or len(current) + extra + len(adder.halves) > max_halves:
            if current:
                chains.append(current)
            current = [Half()]
        elif not current[-1].free:
            current.append(Half())
        link = current[-1]
        link.a = _bit(adder.carry_in)
        link.generate = lambda a, b, inv=int(adder.carry_inverted): a ^ inv
        current.extend(adder.halves)
    if current:
        chains.append(current)

    laid_out = set()
    for halves in chains:
        for h in halves:
            for value in (h.a, h.b, h.c):
                if isinstance(value, Half) and id(value) not in laid_out:
                    raise ValueError("a half's input can only be the sum of a half laid out "
                                     "before it")
            laid_out.add(id(h))

    for n, halves in enumerate(chains):
        if len(halves) % 2:
            halves = halves + [Half()]
        carry = None
        for k in range(0, len(halves), 2):
            h0, h1 = halves[k], halves[k + 1]
            cell = CCU2C(h0.init(), h1.init(), carry_in=k > 0, carry_out=k + 2 < len(halves))
            m.submodules[f"{name}_chain{n}_{k // 2}"] = cell
            for h, suffix in ((h0, "0"), (h1, "1")):
                h.sum = Signal(name=f"{name}_chain{n}_s{k + int(suffix)}")
                m.d.comb += [getattr(cell, "A" + suffix).eq(_bit(h.a)),
                             getattr(cell, "B" + suffix).eq(_bit(h.b)),
                             getattr(cell, "C" + suffix).eq(_bit(h.c)),
                             getattr(cell, "D" + suffix).eq(1),
                             h.sum.eq(getattr(cell, "S" + suffix))]
            if carry is not None:
                m.d.comb += cell.CIN.eq(carry)
            carry = cell.COUT
    return len(chains)

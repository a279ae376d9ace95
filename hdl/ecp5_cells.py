"""ECP5 carry cells, their exact model, and a builder of carry chains.

An ECP5 ``CCU2C`` holds two "halves", each a LUT4 plus one bit of the fast carry chain. A half
with inputs A, B, C, D computes, from its ``INIT`` (Yosys' ``lattice/ccu2c_sim.vh``, which
this module follows bit for bit):

* the propagate ``P = INIT[{D, C, B, A}]``;
* the generate ``G = INIT[{B, A}]``, the same table read with C = D = 0;
* the sum ``S = P ^ CIN`` and the carry ``COUT = P ? CIN : G``.

With D tied high, P is any function of A, B, C and G any function of A and B: one half adds
``f(A, B) + g(C)`` for any f and g (a conditional complement included) with no LUT of its
own. With D as a fourth input, G is P's own table at C = D = 0, which still adds
``f(A, B) + g(C, D)`` whenever ``g(0, 0) = 0``: two operands, each complemented by its own
flag. A half with ``P = 0`` passes the carry out as its sum and starts a new carry from
``G``, which lets unrelated adders share one chain; a half with ``P = 1`` passes the carry on
and gives its complement as its sum.

Every chain costs nextpnr's feed-in cell at its start and feed-out cell at its end (two logic
cells each), whatever the flow (Yosys ties an unconnected first ``CIN`` to 0, and gives every
last ``COUT`` a net): madvq makes their first halves do the work of starting the chain's
carry and bringing its last carry out, so fewer, longer chains still cost less, while every
carry cell on a chain lengthens the path that timing analysis sees (it does not know that a
P = 0 half cuts the carry).

:class:`CCU2C` is the cell: an ``Instance`` when elaborated for a platform whose ``family``
is ``"ecp5"``, otherwise (simulation, other devices) Amaranth logic that computes exactly what
the cell computes. :func:`build_chains` lays out lists of :class:`Adder` as chains of cells.
"""

from dataclasses import dataclass, field
from pathlib import Path

from amaranth.hdl import Cat, Const, Instance, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


__all__ = ["CCU2C", "ccu2c_model", "Half", "Carry", "CHAINED", "Adder", "build_chains"]


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
        # A cell may leave CIN (the model reads 0) or COUT unconnected; madvq's chains
        # connect both (see build_chains).
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
    """One LUT4 + carry bit, its tables given as Python functions of its input bits.

    With ``d=None`` (D tied high) ``propagate(a, b, c)`` and ``generate(a, b)`` are
    independent tables (``INIT[15:8]`` and ``INIT[3:0]``). With a ``d`` input,
    ``propagate(a, b, c, d)`` fills the whole ``INIT``, and the cell's generate is then
    ``propagate(a, b, 0, 0)``: ``generate`` must equal it (checked), which holds for an adder
    bit ``f(a, b) + g(c, d)`` whenever ``g(0, 0) = 0``. ``propagate=None`` means P = 0: the
    half's sum is its incoming carry, and its generate starts a new carry. An input may be
    another half laid out before this one, meaning its sum. ``sum`` is created by
    :func:`build_chains`."""
    a: object = 0
    b: object = 0
    c: object = 0
    d: object = None
    propagate: object = None
    generate: object = None
    sum: Signal = field(default=None, repr=False)

    @property
    def free(self):
        return self.propagate is None

    def init(self):
        """The half's 16-bit ``INIT``."""
        g = 0
        for k in range(4):
            if self.generate is not None and self.generate(k & 1, k >> 1):
                g |= 1 << k
        if self.d is None:
            p = 0
            for k in range(8):
                if self.propagate is not None and self.propagate(k & 1, (k >> 1) & 1, k >> 2):
                    p |= 1 << k
            return (p << 8) | g
        p = 0
        for k in range(16):
            if self.propagate(k & 1, (k >> 1) & 1, (k >> 2) & 1, k >> 3):
                p |= 1 << k
        if p & 0xF != g:
            raise ValueError("a half with a D input generates propagate(a, b, 0, 0); its "
                             "generate must be that function")
        return p


@dataclass(frozen=True)
class Carry:
    """A carry-in computed by the half that starts it: ``function(a, b)`` of two 1-bit
    values (a half's generate reads two inputs)."""
    a: object
    b: object
    function: object


#: The carry-in of an adder that takes the carry out of the adder before it in its chain,
#: through (the previous adder ends in a half with P = 1: its sum is the complement of that
#: carry).
CHAINED = "chained"


@dataclass
class Adder:
    """One addition laid out as consecutive halves, and the carry it starts with: the
    constants 0/1, a 1-bit value, a :class:`Carry`, or :data:`CHAINED`. After
    :func:`build_chains`, ``carry_out`` is its carry out as a signal, unless the next adder
    in its chain is :data:`CHAINED`."""
    halves: list
    carry_in: object
    carry_out: object = field(default=None, repr=False)


def _carry_in_half(carry):
    """The half with P = 0 that starts a carry: its generate computes it."""
    if isinstance(carry, Carry):
        return Half(a=carry.a, b=carry.b, generate=carry.function)
    if isinstance(carry, int):
        return Half(generate=lambda a, b, c=carry: c)
    return Half(a=carry, generate=lambda a, b: a)


def build_chains(m, name, chains):
    """Lay out ``chains`` (a list of lists of :class:`Adder`, each list one carry chain) as
    ``CCU2C`` cells in ``m``, give every half its ``sum`` and every adder its
    ``carry_out``. Returns the number of cells.

    A chain's first ``CIN`` carries its first adder's carry-in (a constant or a 1-bit
    value): nextpnr gives every chain a feed-in cell whose first half makes that carry from
    the fabric, and a feed-out cell whose first half brings the last carry out to the fabric,
    whatever the flow, so a chain uses both rather than halves of its own. Between two adders
    of a chain a half with P = 0 passes the carry out of one as its sum and starts the
    next one's carry (a :class:`Carry` costs nothing there), unless the next one is
    :data:`CHAINED`. A chain of an odd number of halves ends in such a half too."""
    cells = 0
    for n, adders in enumerate(chains):
        if not adders:
            raise ValueError("a chain needs at least one adder")
        first = adders[0].carry_in
        if first is CHAINED or isinstance(first, Carry):
            raise ValueError(f"a chain starts with a constant or a 1-bit carry-in, not "
                             f"{first!r}")
        halves = []
        links = []          # (adder, half whose sum is its carry out)
        for k, adder in enumerate(adders):
            if not adder.halves:
                raise ValueError("an adder needs at least one half")
            if k and adder.carry_in is not CHAINED:
                link = _carry_in_half(adder.carry_in)
                halves.append(link)
                links.append((adders[k - 1], link))
            halves.extend(adder.halves)
        if len(halves) % 2:
            end = Half()
            halves.append(end)
            links.append((adders[-1], end))

        laid_out = set()
        for h in halves:
            for value in (h.a, h.b, h.c, h.d):
                if isinstance(value, Half) and id(value) not in laid_out:
                    raise ValueError("a half's input can only be the sum of a half laid "
                                     "out before it")
            laid_out.add(id(h))

        carry = None
        for k in range(0, len(halves), 2):
            h0, h1 = halves[k], halves[k + 1]
            cell = CCU2C(h0.init(), h1.init())
            m.submodules[f"{name}_chain{n}_{k // 2}"] = cell
            cells += 1
            for h, suffix in ((h0, "0"), (h1, "1")):
                h.sum = Signal(name=f"{name}_chain{n}_s{k + int(suffix)}")
                m.d.comb += [getattr(cell, "A" + suffix).eq(_bit(h.a)),
                             getattr(cell, "B" + suffix).eq(_bit(h.b)),
                             getattr(cell, "C" + suffix).eq(_bit(h.c)),
                             getattr(cell, "D" + suffix).eq(1 if h.d is None else _bit(h.d)),
                             h.sum.eq(getattr(cell, "S" + suffix))]
            m.d.comb += cell.CIN.eq(_bit(first) if carry is None else carry)
            carry = cell.COUT
        last = Signal(name=f"{name}_chain{n}_cout")
        m.d.comb += last.eq(carry)
        for adder, half in links:
            adder.carry_out = half.sum
        if not links or links[-1][0] is not adders[-1]:
            adders[-1].carry_out = last
    return cells

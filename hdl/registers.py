"""Registers that madvq's gateware places with intent: delay lines, kept copies and a stream
register slice.

:func:`delay` is a value delayed by a number of registers (without reset unless asked: the
datapath needs none, which keeps reset fan-out to the few valid bits); :func:`register_copy`
is one more register of a value that synthesis keeps apart from its twins, so that a copy
can sit beside the logic it feeds. :class:`StreamSlice` cuts a stream's handshake into
registers on both sides.
"""

from amaranth.hdl import ClockSignal, Instance, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out


__all__ = ["delay", "register_copy", "COPY_ATTRIBUTE", "StreamSlice"]


#: The attribute that marks a copy's register (on its Amaranth signal). madvq's Verilog
#: export turns it into a ``keep`` attribute on the register itself, so that any synthesis
#: of the Verilog keeps the copies apart (a stock Yosys merges identical registers); flows
#: that do not know it merge them as they please.
COPY_ATTRIBUTE = "madvq_copy"


def delay(m, value, cycles, name, *, reset=False):
    """``value`` delayed by ``cycles`` registers (without reset unless asked: datapath
    registers need none, which keeps reset fan-out to the few valid bits)."""
    for k in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{k + 1}", reset_less=not reset)
        m.d.sync += reg.eq(value)
        value = reg
    return value


def register_copy(m, value, name, platform):
    """A register of ``value`` that synthesis keeps apart from other registers of the same
    value (a copy placed beside the logic it feeds cuts a long, heavily loaded wire).

    It is a plain register marked with :data:`COPY_ATTRIBUTE`, which madvq's Verilog (and
    so every flow that reads it, madvq's own ECP5 flow included) carries as ``(* keep *)``.
    Built by Amaranth's own Trellis toolchain (an ECP5 board), where that attribute does not
    reach Yosys' cells, it is made of ``TRELLIS_FF`` cells, which Yosys does not merge either."""
    reg = Signal(len(value), name=name, reset_less=True, attrs={COPY_ATTRIBUTE: 1})
    if (getattr(platform, "family", None) != "ecp5"
            or getattr(platform, "toolchain", None) != "Trellis"):
        m.d.sync += reg.eq(value)
        return reg
    for k in range(len(value)):
        m.submodules[f"{name}_ff{k}"] = Instance(
            "TRELLIS_FF", p_GSR="DISABLED", p_CEMUX="1", p_CLKMUX="CLK", p_LSRMUX="LSR",
            p_REGSET="RESET", p_SRMODE="LSR_OVER_CE",
            i_CLK=ClockSignal("sync"), i_DI=value[k], o_Q=reg[k])
    return reg


class StreamSlice(wiring.Component):
    """A register slice on a stream (valid/ready): ``i.ready`` and ``o.valid`` come straight
    from registers, so that neither side's handshake logic reaches the other's.

    Latency 1 cycle; one transfer per cycle in steady state. It holds two payloads: the one
    offered on ``o``, and one taken while ``o`` stalled (``i.ready`` is low while that one
    is held). Payloads leave in order, each once.
    """

    def __init__(self, shape):
        super().__init__({"i": In(stream.Signature(shape)),
                          "o": Out(stream.Signature(shape))})

    def elaborate(self, platform):
        m = Module()
        held = Signal.like(self.i.payload, name="held", reset_less=True)
        held_valid = Signal()
        out = Signal.like(self.i.payload, name="out", reset_less=True)
        out_valid = Signal()
        m.d.comb += [self.i.ready.eq(~held_valid), self.o.valid.eq(out_valid),
                     self.o.payload.eq(out)]
        # The output register moves on when it is empty or its payload is taken: it loads
        # the held payload first, otherwise what is offered now. The data registers load on
        # registers and ``o.ready`` alone (what they hold while their valid bit is low does
        # not matter): only the valid bits wait for ``i.valid``, so that its path does not
        # fan out over the data.
        with m.If(~out_valid | self.o.ready):
            m.d.sync += [out.eq(Mux(held_valid, held, self.i.payload)),
                         out_valid.eq(held_valid | self.i.valid),
                         held_valid.eq(0)]
        with m.Elif(self.i.valid & ~held_valid):
            m.d.sync += held_valid.eq(1)
        with m.If(~held_valid):
            m.d.sync += held.eq(self.i.payload)
        return m

"""Registers that madvq's gateware places with intent: delay lines and kept copies.

:func:`delay` is a value delayed by a number of registers (without reset unless asked: the
datapath needs none, which keeps reset fan-out to the few valid bits); :func:`register_copy`
is one more register of a value that synthesis keeps apart from its twins, so that a copy
can sit beside the logic it feeds.
"""

from amaranth.hdl import ClockSignal, Instance, Signal


__all__ = ["delay", "register_copy"]


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
    value (a copy placed beside the logic it feeds cuts a long, heavily loaded wire). Built
    with Yosys and nextpnr for ECP5 (toolchain ``"Trellis"``) it is made of ``TRELLIS_FF``
    cells, which Yosys does not merge; elsewhere, and in simulation, it is a plain register
    (that a tool may merge)."""
    reg = Signal(len(value), name=name, reset_less=True)
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

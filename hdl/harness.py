"""A serial test harness that lets a core with hundreds of ports be placed on a small FPGA.

An iCE40UP5K in its SG48 package has 39 I/O pins and its place-and-route tool has no
out-of-context mode, while a 16x16x8 core has about 300 ports. :class:`SerialHarness` feeds
every core input from one serial shift register and reads every core output back through
another, so the whole design needs five pins. It stands in for the board link that a real
design puts there (one frame buffer of N*W bits serves both the vector and the codebook
stream, as it would behind a UART), and its cost is known exactly: one flip-flop per bit of
the two shift registers (:attr:`SerialHarness.flops`).
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import CoreConfig
from .ports import FlatMADCore, port_table


__all__ = ["SerialHarness"]


class SerialHarness(wiring.Component):
    """``FlatMADCore`` behind two shift registers.

    ``shift_in`` shifts ``serial_in`` into the input register while high; the input register
    drives the core's data, index, count and valid ports (``vector_data`` and
    ``codebook_data`` share the same N*W bits). ``capture`` loads every core output into the
    output register; otherwise it shifts towards ``serial_out``. No latency or throughput of
    its own matters: it exists so that the core's logic and timing can be measured in place.
    """

    serial_in: In(1)
    shift_in: In(1)
    capture: In(1)
    serial_out: Out(1)

    def __init__(self, config):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        self._config = config
        ports = [p for p in port_table(config) if p["name"] not in ("clk", "rst")]
        self._inputs = [p for p in ports if p["direction"] == "input"
                        and p["name"] != "codebook_data"]
        self._outputs = [p for p in ports if p["direction"] == "output"]
        super().__init__()

    @property
    def flops(self):
        """Flip-flops of the two shift registers (each costs one logic cell on an iCE40)."""
        return (sum(p["width"] for p in self._inputs)
                + sum(p["width"] for p in self._outputs))

    def elaborate(self, platform):
        m = Module()
        core = m.submodules.core = FlatMADCore(self._config)

        n_in = sum(p["width"] for p in self._inputs)
        shift_in = Signal(n_in)
        with m.If(self.shift_in):
            m.d.sync += shift_in.eq(Cat(shift_in[1:], self.serial_in))
        offset = 0
        for p in self._inputs:
            m.d.comb += getattr(core, p["name"]).eq(shift_in[offset:offset + p["width"]])
            offset += p["width"]
        m.d.comb += core.codebook_data.eq(core.vector_data)

        outputs = Cat(*(getattr(core, p["name"]) for p in self._outputs))
        shift_out = Signal(len(outputs))
        with m.If(self.capture):
            m.d.sync += shift_out.eq(outputs)
        with m.Else():
            m.d.sync += shift_out.eq(shift_out[1:])
        m.d.comb += self.serial_out.eq(shift_out[0])
        return m

"""UART receiver and transmitter, 8N1, with the clock cycles per bit a build parameter."""

from amaranth.hdl import Module, Signal, Cat, Const
from amaranth.lib import cdc, data, stream, wiring
from amaranth.lib.wiring import In, Out


__all__ = ["received_layout", "UARTReceiver", "UARTTransmitter"]


def _check_divisor(divisor):
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 4:
        raise ValueError(f"UART divisor must be an integer >= 4 (clock cycles per bit), "
                         f"not {divisor!r}")


def received_layout():
    """A received byte, and whether it is damaged: a missing stop bit, or bytes before it
    were lost because nobody took them."""
    return data.StructLayout({"data": 8, "error": 1})


class UARTReceiver(wiring.Component):
    """8N1 receiver.

    ``rx`` is the line (idle high), synchronised here. A start bit is confirmed half a bit
    after its falling edge (shorter glitches are ignored); each data bit and the stop bit
    are sampled in the middle of the bit. One ``received`` transfer per byte, a little after
    the middle of its stop bit. The line cannot wait, so ``received`` has no ``ready`` to
    honour: a byte offered while ``ready`` is low is lost, and the next byte delivered carries
    ``error`` so that the loss is known.
    """

    def __init__(self, divisor):
        _check_divisor(divisor)
        self._divisor = divisor
        super().__init__({
            "rx": In(1, init=1),
            "received": Out(stream.Signature(received_layout())),
        })

    def elaborate(self, platform):
        m = Module()
        div = self._divisor
        line = Signal(init=1)
        m.submodules.sync = cdc.FFSynchronizer(self.rx, line, init=1)

        timer = Signal(range(div + 1))
        bit = Signal(range(10))
        shift = Signal(8)
        lost = Signal()

        with m.If(self.received.valid):
            m.d.sync += self.received.valid.eq(0)
            with m.If(~self.received.ready):
                m.d.sync += lost.eq(1)
            with m.Else():
                m.d.sync += lost.eq(0)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(div // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):                # a glitch, not a start bit
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += [timer.eq(div - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [timer.eq(div - 1), shift.eq(Cat(shift[1:], line)),
                                 bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [
                        self.received.valid.eq(1),
                        self.received.p.data.eq(shift),
                        # A low stop bit: a framing error (or a break).
                        self.received.p.error.eq(~line | lost |
                                                 (self.received.valid & ~self.received.ready)),
                    ]
                    with m.If(line):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "BREAK"
            with m.State("BREAK"):                # wait for the line to go idle again
                with m.If(line):
                    m.next = "IDLE"
        return m


class UARTTransmitter(wiring.Component):
    """8N1 transmitter: takes a byte from ``send`` whenever it is idle and shifts it out on
    ``tx`` (idle high), ``10 * divisor`` cycles per byte, back to back."""

    def __init__(self, divisor):
        _check_divisor(divisor)
        self._divisor = divisor
        super().__init__({
            "send": In(stream.Signature(8)),
            "tx": Out(1, init=1),
        })

    def elaborate(self, platform):
        m = Module()
        div = self._divisor
        timer = Signal(range(div))
        bits = Signal(10, init=0x3FF)            # stop, data, start: shifted out LSB first
        left = Signal(range(11))

        # Ready in the last cycle of a stop bit too, so that bytes follow back to back.
        m.d.comb += [self.tx.eq(bits[0]),
                     self.send.ready.eq((left == 0) | ((left == 1) & (timer == 0)))]
        with m.If(self.send.valid & self.send.ready):
            m.d.sync += [bits.eq(Cat(Const(0, 1), self.send.p, Const(1, 1))),
                         left.eq(10), timer.eq(div - 1)]
        with m.Elif(left != 0):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Else():
                m.d.sync += [timer.eq(div - 1), left.eq(left - 1),
                             bits.eq(Cat(bits[1:], Const(1, 1)))]
        return m

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
    """What the receiver delivers: a byte (``idle`` low) or the mark that the line has gone
    idle (``idle`` high, ``data`` meaningless); ``error`` when something was damaged: the
    byte's stop bit was missing (a framing error or a break), or items before this one were
    lost because nobody took them."""
    return data.StructLayout({"data": 8, "error": 1, "idle": 1})


class UARTReceiver(wiring.Component):
    """8N1 receiver.

    ``rx`` is the line (idle high), synchronised here. A start bit is confirmed half a bit
    after its falling edge (shorter glitches are ignored); each data bit and the stop bit
    are sampled in the middle of the bit. One ``received`` item per byte, offered a little
    after the middle of its stop bit; with ``idle_bits``, one more item, an idle mark, when
    the line has carried no start bit for that many bit periods after a byte. The line
    cannot wait: an item that completes while the previous one is still offered is lost,
    and the next item offered (a byte, or the idle mark) carries ``error`` so that the loss
    is known where it happened. So a consumer that takes each item within a byte time loses
    nothing.
    """

    def __init__(self, divisor, *, idle_bits=None):
        _check_divisor(divisor)
        if idle_bits is not None and (not isinstance(idle_bits, int)
                                      or isinstance(idle_bits, bool) or idle_bits < 1):
            raise ValueError(f"idle_bits must be a positive integer or None, "
                             f"not {idle_bits!r}")
        self._divisor = divisor
        self._idle_bits = idle_bits
        super().__init__({
            "rx": In(1, init=1),
            "received": Out(stream.Signature(received_layout())),
        })

    def elaborate(self, platform):
        m = Module()
        div = self._divisor
        line = Signal(init=1)
        m.submodules.sync = cdc.FFSynchronizer(self.rx, line, init=1)
        out = self.received

        timer = Signal(range(div + 1))
        bit = Signal(range(10))
        shift = Signal(8)
        lost = Signal()

        with m.If(out.valid & out.ready):
            m.d.sync += out.valid.eq(0)

        def deliver(data, error, idle):
            with m.If(out.valid & ~out.ready):
                m.d.sync += lost.eq(1)
            with m.Else():
                m.d.sync += [out.valid.eq(1), out.p.data.eq(data), out.p.idle.eq(idle),
                             out.p.error.eq(error | lost), lost.eq(0)]

        # Bit periods left until the idle mark; zero once it has been given (and after
        # reset, so that a line idle since power-up gives none). `timer` counts the bit
        # period meanwhile.
        idle_left = Signal(range((self._idle_bits or 0) + 1))

        with m.FSM():
            with m.State("IDLE"):
                if self._idle_bits is not None:
                    with m.If(timer != 0):
                        m.d.sync += timer.eq(timer - 1)
                    with m.Elif(idle_left != 0):
                        m.d.sync += [timer.eq(div - 1), idle_left.eq(idle_left - 1)]
                        with m.If(idle_left == 1):
                            deliver(0, 0, 1)
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
                    # A low stop bit: a framing error (or a break).
                    deliver(shift, ~line, 0)
                    if self._idle_bits is not None:
                        m.d.sync += idle_left.eq(self._idle_bits)
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

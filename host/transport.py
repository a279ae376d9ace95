"""How the driver's bytes reach a board: a serial port, or the simulated board.

A :class:`Transport` moves bytes and keeps the board's notion of time: ``read`` waits at most
``timeout`` seconds *of the board's time* (wall-clock time on a serial port, simulated time
on the simulated board), so the driver's timeouts mean the same on both.
"""

import time


__all__ = ["Transport", "SerialTransport", "open_transport", "check_baud", "MAX_BAUD"]


#: The fastest line any madvq board top could run: a UART needs at least 4 clock cycles per
#: bit, and 400 MHz is the fastest clock a board build's PLL makes.
MAX_BAUD = 100_000_000


def check_baud(baud):
    """``baud`` when it is an integer from 1 to :data:`MAX_BAUD`; ``ValueError`` otherwise."""
    if isinstance(baud, bool) or not isinstance(baud, int) or not 1 <= baud <= MAX_BAUD:
        raise ValueError(f"baud must be an integer from 1 to {MAX_BAUD:,}, "
                         f"not {baud!r}")
    return baud


class Transport:
    """The interface the driver uses. The simulated boards of :mod:`madvq.sim.board`
    implement it without deriving from it (the simulators sit a layer below the driver);
    :func:`open_transport` opens a serial port or, by name, one of them."""

    #: Bit rate of the line, for the driver's timeouts.
    baud = None
    #: How long bytes may sit between the board and the driver (USB serial adapters
    #: hold them for milliseconds): a line counts as quiet only after this much silence.
    latency = 0.0

    def write(self, data):
        """Send ``data`` (bytes)."""
        raise NotImplementedError

    def now(self):
        """The board's time in seconds (any origin)."""
        raise NotImplementedError

    def read(self, timeout):
        """Whatever bytes arrive within ``timeout`` seconds, returning as soon as there are
        some (``b""`` when none came)."""
        raise NotImplementedError

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialTransport(Transport):
    """A serial port through pyserial (8N1, no flow control)."""

    latency = 0.05

    def __init__(self, port, baud):
        baud = check_baud(baud)
        try:
            import serial
        except ImportError:                                     # pragma: no cover
            raise OSError("pyserial is not installed: pip install pyserial") from None
        self.baud = baud
        try:
            self._port = serial.Serial(port, baudrate=baud, bytesize=8, parity="N",
                                       stopbits=1, timeout=0, write_timeout=10)
        except (serial.SerialException, ValueError) as exc:
            raise OSError(f"cannot open serial port '{port}': {exc}") from None
        self._port.reset_input_buffer()

    def write(self, data):
        self._port.write(data)

    def now(self):
        return time.monotonic()

    def read(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            waiting = self._port.in_waiting
            if waiting:
                return self._port.read(waiting)
            left = deadline - time.monotonic()
            if left <= 0:
                return b""
            self._port.timeout = min(left, 0.05)
            got = self._port.read(1)
            if got:
                return got + self._port.read(self._port.in_waiting)

    def close(self):
        self._port.close()


def open_transport(port, baud=None, *, link=None, backend="auto", log=None):
    """``port`` ``"sim"`` gives the simulated board of ``link`` (a
    :class:`~madvq.hdl.protocol.LinkConfig`) on simulator ``backend`` (``"verilator"``,
    ``"amaranth"`` or ``"auto"``); anything else is a serial device."""
    if port == "sim":
        from madvq.sim.board import simulated_board
        return simulated_board(link, backend=backend, log=log)
    if baud is None:
        raise ValueError("a serial port needs a baud rate")
    return SerialTransport(port, baud)

"""The simulated board: the whole board top (UART bit level included) in Amaranth's
simulator, behind the same transport interface as a serial port.

Bytes the host writes are shifted into the board's ``rx`` pin bit by bit at the link's baud
rate; bytes the board sends are decoded from its ``tx`` pin. Time is the simulated board's:
``read(timeout)`` runs the simulation for at most ``timeout`` seconds of board time.

Speed: a few thousand board cycles per second of wall time for a small core, so simulated
links use a small baud divisor (4 cycles per bit, the least the receiver accepts) and small
cores. The class takes any :class:`~madvq.hdl.protocol.LinkConfig`; a faster simulator of the
same top can stand in for it behind the same interface.
"""

from collections import deque

from amaranth.sim import Simulator

from madvq.hdl.board import BoardTop
from madvq.hdl.config import CoreConfig
from madvq.hdl.protocol import LinkConfig
from madvq.host.transport import Transport


__all__ = ["SimulatedBoard", "sim_link"]


_BREAK = object()


def sim_link(core=None, **kwargs):
    """A :class:`LinkConfig` that simulates quickly: 4 clock cycles per bit and a short
    timeout, for the core ``core`` (default: the default core)."""
    params = dict(core=core or CoreConfig(), clock_hz=1_000_000, baud=250_000,
                  max_vectors=8, timeout_bytes=64)
    params.update(kwargs)
    return LinkConfig(**params)


class SimulatedBoard(Transport):
    """A :class:`~madvq.host.transport.Transport` to a simulated :class:`BoardTop`."""

    def __init__(self, link=None, *, vcd=None):
        self.link = link if link is not None else sim_link()
        if not isinstance(self.link, LinkConfig):
            raise TypeError(f"link must be a LinkConfig, not {self.link!r}")
        self.baud = self.link.baud
        self.top = BoardTop(self.link)
        self._to_board = deque()
        self._from_board = bytearray()
        self.line_errors = 0
        self._period_fs = round(1e15 / self.link.clock_hz)
        self._period = self._period_fs / 1e15

        sim = Simulator(self.top)
        sim.add_clock(self._period)
        sim.add_testbench(self._drive_rx, background=True)
        sim.add_testbench(self._watch_tx, background=True)
        self._sim = sim
        self._vcd = None
        if vcd is not None:
            self._vcd = sim.write_vcd(str(vcd))
            self._vcd.__enter__()

    @property
    def cycles(self):
        """Board clock cycles simulated so far."""
        return self._fs // self._period_fs

    # Time is kept in whole femtoseconds, as the simulator keeps it: sums of float seconds
    # drift below the simulator's own clock.
    _fs = 0

    async def _drive_rx(self, ctx):
        div = self.link.divisor
        rx = self.top.rx
        ctx.set(rx, 1)
        # Plain ticks only: the trigger helpers (repeat, until) are async generators, which
        # cannot be closed cleanly when the simulator is dropped in the middle of a wait.
        while True:
            if not self._to_board:
                for _ in range(div):
                    await ctx.tick()
                continue
            byte = self._to_board.popleft()
            if byte is _BREAK:                       # the line held low for 2 byte times
                bits = [0] * 20 + [1]
            else:
                bits = [0] + [(byte >> k) & 1 for k in range(8)] + [1]
            for bit in bits:
                ctx.set(rx, bit)
                for _ in range(div):
                    await ctx.tick()

    async def _watch_tx(self, ctx):
        div = self.link.divisor
        tx = self.top.tx
        async def ticks(n):
            for _ in range(n):
                await ctx.tick()

        while True:
            if ctx.get(tx):
                # Sleep until the start bit: the line changes right after a clock edge,
                # so this wakes at the edge, as ticking until it would.
                await ctx.changed(tx)
            await ticks(div // 2)                   # the middle of the start bit
            value = 0
            for k in range(8):
                await ticks(div)
                value |= ctx.get(tx) << k
            await ticks(div)
            if ctx.get(tx) != 1:
                self.line_errors += 1
                while not ctx.get(tx):
                    await ctx.tick()
            self._from_board.append(value)

    def write(self, data):
        self._to_board.extend(bytes(data))

    def send_break(self):
        """Hold the line low for two byte times: a byte with a framing error."""
        self._to_board.append(_BREAK)

    def now(self):
        return self._fs / 1e15

    def run_for(self, seconds):
        """Advance the board by ``seconds`` (whole clock cycles, at least one)."""
        cycles = max(1, round(seconds / self._period))
        self._fs += cycles * self._period_fs
        self._sim.run_until(self._fs / 1e15)

    def read(self, timeout):
        # Run a few byte times at a time, and return as soon as something came.
        byte_time = 10 * self.link.divisor * self._period
        end = self.now() + timeout
        while not self._from_board and self.now() < end:
            self.run_for(min(4 * byte_time, end - self.now()))
        data = bytes(self._from_board)
        self._from_board.clear()
        return data

    def close(self):
        if self._vcd is not None:
            self._vcd.__exit__(None, None, None)
            self._vcd = None

"""The simulated board: the whole board top (UART bit level included), cycle-accurate, behind
the same transport interface as a serial port.

Bytes the host writes are shifted into the board's ``rx`` pin bit by bit at the link's baud
rate; bytes the board sends are decoded from its ``tx`` pin. Time is the simulated board's:
``read(timeout)`` runs the simulation for at most ``timeout`` seconds of board time.

Two simulators, one behaviour:

* :class:`VerilatedBoard`: the board top exported to Verilog and compiled with Verilator,
  the line driven and watched by a C++ harness (``board_harness.cpp``); a few hundred
  thousand to millions of cycles per second, so real clocks and baud rates simulate in
  seconds. The model is compiled once per configuration and cached (as the Verilator
  backend's models are).
* :class:`SimulatedBoard`: Amaranth's Python simulator; a few thousand cycles per second,
  so it suits small cores and a small baud divisor (4 clock cycles per bit, the least the
  receiver accepts). It needs no C++ tool chain and can write a waveform.

:func:`simulated_board` picks Verilator when its tools are installed.
"""

import ctypes
from collections import deque
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import ClockDomain, Elaboratable, Module
from amaranth.sim import Simulator

from madvq.hdl.board import BoardTop
from madvq.hdl.config import CoreConfig
from madvq.hdl.protocol import LinkConfig
from madvq.hdl.tools import write_text_atomically


__all__ = ["SimulatedBoard", "VerilatedBoard", "simulated_board", "sim_link", "board_link",
           "board_verilog", "BoardLine"]


_BREAK = object()


class BoardLine:
    """The line to a simulated board, as the host driver sees a transport (the interface of
    :class:`madvq.host.transport.Transport`: ``write``, ``now``, ``read``, ``close``,
    ``baud``, ``latency``). The simulated boards implement that interface rather than
    import it: the driver sits a layer above the simulators, and
    :func:`madvq.host.transport.open_transport` opens them by name (``"sim"``)."""

    #: Bit rate of the line.
    baud = None
    #: Bytes reach the driver as soon as the simulation has sent them.
    latency = 0.0

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sim_link(core=None, **kwargs):
    """A :class:`LinkConfig` that simulates quickly on Amaranth's simulator: 4 clock cycles
    per bit and a short timeout, for the core ``core`` (default: the default core)."""
    params = dict(core=core or CoreConfig(), clock_hz=1_000_000, baud=250_000,
                  max_vectors=8, timeout_bytes=64)
    params.update(kwargs)
    return LinkConfig(**params)


def board_link(core, backend, baud=1_000_000, clock_hz=24_000_000, core_clock_ratio=1):
    """The link ``madvq classify --port sim`` simulates: on Verilator a real one (the board
    build's link clock ``clock_hz``, default 24 MHz, ``baud`` and ``core_clock_ratio``), on
    Amaranth :func:`sim_link` (with the same ratio)."""
    if backend == "verilator":
        return LinkConfig(core=core, clock_hz=clock_hz, baud=baud,
                          core_clock_ratio=core_clock_ratio)
    return sim_link(core, core_clock_ratio=core_clock_ratio)


class SimulatedBoard(BoardLine):
    """A line to a simulated :class:`BoardTop` on Amaranth's simulator."""

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
        if self.link.core_clock_ratio != 1:
            # The core's clock: its edges fall on the link's and half-way between them.
            sim.add_clock(self._period / self.link.core_clock_ratio, domain="core")
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


# ---------------------------------------------------------------------------- Verilator

BOARD_TOP = "madvq_board"
_HARNESS = Path(__file__).with_name("board_harness.cpp")


def _fingerprint(link):
    """Everything the board's Verilog depends on: the link's parameters, madvq's gateware
    sources and the Amaranth in use."""
    from .verilator_backend import gateware_fingerprint
    return gateware_fingerprint({"core": link.core.to_dict(), "clock_hz": link.clock_hz,
                                 "baud": link.baud, "max_vectors": link.max_vectors,
                                 "timeout_bytes": link.timeout_bytes,
                                 "core_clock_ratio": link.core_clock_ratio})


def board_verilog(link, *, cache_dir=None):
    """The board top of ``link`` as Verilog (module ``madvq_board``), kept in the cache."""
    from .verilated import cache_root
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    entry = root / "board-verilog" / (_fingerprint(link)[:40] + ".v")
    try:
        return entry.read_text()
    except OSError:
        pass
    top = BoardTop(link)
    if link.core_clock_ratio == 1:
        text = verilog.convert(top, name=BOARD_TOP)
    else:
        # Two clock domains: named here, with the ports in a fixed order (Amaranth orders
        # the ports of the domains it adds itself by a set, which changes between runs).
        wrapper = _TwoClockTop(top)
        text = verilog.convert(wrapper, name=BOARD_TOP, ports=wrapper.ports())
    write_text_atomically(entry, text)
    return text


class _TwoClockTop(Elaboratable):
    """``top`` with its two clock domains, ``sync`` (ports ``clk``, ``rst``) and ``core``
    (``core_clk``, ``core_rst``), defined around it for export."""

    def __init__(self, top):
        self.top = top
        self.sync = ClockDomain("sync")
        self.core = ClockDomain("core")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync, m.domains.core = self.sync, self.core
        m.submodules.board = self.top
        return m

    def ports(self):
        return [self.sync.clk, self.sync.rst, self.core.clk, self.core.rst,
                *(getattr(self.top, name) for name in self.top.signature.members)]


def harness_text(core_clock_ratio=1):
    """The C++ harness for a board top whose core runs at ``core_clock_ratio`` times the
    link's clock (2: the top has a ``core_clk`` input, ticked twice per link cycle)."""
    text = _HARNESS.read_text()
    if core_clock_ratio == 1:
        return text
    return f"#define MADVQ_CORE_CLOCK_RATIO {core_clock_ratio}\n" + text


class VerilatedBoard(BoardLine):
    """A line to the board top compiled by Verilator.
    ``log`` receives a note before a compile starts.

    ``verilog`` (a text or a list of texts) with top module ``top`` replaces the board top
    exported from ``link``: any design whose top has the ports ``clk``, ``rst``, ``rx`` and
    ``tx`` and behaves as the board of ``link`` (a synthesised netlist, for one);
    ``verilator_args`` are added to Verilator's options for it and ``make_opt`` replaces the
    compiler's optimisation flags (see :func:`~madvq.sim.verilated.build_model`). ``rst`` is
    held low. With ``link.core_clock_ratio`` 2 the top also has ``core_clk`` (rising with
    ``clk`` and half-way between its edges) and ``core_rst`` (held low);
    a cycle is then the link's."""

    def __init__(self, link=None, *, verilog=None, top=None, verilator_args=(),
                 make_opt=None, cache_dir=None, log=None):
        from .verilated import build_model, find_tools
        self.link = link if link is not None else sim_link()
        if not isinstance(self.link, LinkConfig):
            raise TypeError(f"link must be a LinkConfig, not {self.link!r}")
        if (verilog is None) != (top is None):
            raise TypeError("verilog and top go together: give both or neither")
        self.baud = self.link.baud
        find_tools()              # a missing tool is reported before the export's seconds
        if verilog is None:
            verilog, top = board_verilog(self.link, cache_dir=cache_dir), BOARD_TOP
        model = build_model(verilog, top, harness_text(self.link.core_clock_ratio),
                            verilator_args=tuple(verilator_args), make_opt=make_opt,
                            cache_dir=cache_dir, log=log)
        lib = model.load()
        lib.board_new.restype = ctypes.c_void_p
        lib.board_new.argtypes = [ctypes.c_uint64]
        lib.board_free.argtypes = [ctypes.c_void_p]
        lib.board_write.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint64]
        lib.board_run.restype = ctypes.c_uint64
        lib.board_run.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p,
                                  ctypes.c_uint64, ctypes.POINTER(ctypes.c_uint64)]
        lib.board_line_errors.restype = ctypes.c_uint64
        lib.board_line_errors.argtypes = [ctypes.c_void_p]
        self._lib = lib
        self._board = lib.board_new(self.link.divisor)
        self._cycles = 0
        self._out = ctypes.create_string_buffer(4096)
        self._period = 1 / self.link.clock_hz

    @property
    def cycles(self):
        """Board clock cycles simulated so far."""
        return self._cycles

    @property
    def line_errors(self):
        return self._lib.board_line_errors(self._board)

    def _send(self, items):
        array = (ctypes.c_uint16 * len(items))(*items)
        self._lib.board_write(self._board, array, len(items))

    def write(self, data):
        data = bytes(data)
        if data:
            self._send(list(data))

    def send_break(self):
        """Hold the line low for two byte times: a byte with a framing error."""
        self._send([0x100])

    def now(self):
        return self._cycles * self._period

    def run_for(self, seconds):
        """Advance the board by ``seconds`` (whole clock cycles, at least one); bytes the
        board sends meanwhile are kept for :meth:`read`."""
        self._pending = getattr(self, "_pending", b"") + self._run(
            max(1, round(seconds / self._period)), stop_early=False)

    def _run(self, cycles, *, stop_early=True):
        got = bytearray()
        n = ctypes.c_uint64()
        while cycles > 0:
            ran = self._lib.board_run(self._board, cycles, self._out, len(self._out),
                                      ctypes.byref(n))
            self._cycles += ran
            cycles -= ran
            got += self._out.raw[:n.value]
            if got and stop_early:
                break
        return bytes(got)

    def read(self, timeout):
        pending = getattr(self, "_pending", b"")
        if pending:
            self._pending = b""
            return pending
        return self._run(max(1, round(timeout / self._period)))

    def close(self):
        if self._board is not None:
            self._lib.board_free(self._board)
            self._board = None

    def __del__(self):
        try:
            self.close()
        except Exception:       # interpreter shutdown: the library may be gone
            pass


def simulated_board(link=None, *, backend="auto", log=None):
    """The simulated board of ``link`` on ``backend``: ``"verilator"``, ``"amaranth"``, or
    ``"auto"`` (Verilator when its tools are installed)."""
    from .run import resolve_backend
    backend = resolve_backend(backend)
    if backend == "verilator":
        return VerilatedBoard(link, log=log)
    return SimulatedBoard(link)

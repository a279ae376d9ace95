"""Cycle-accurate simulation of a core with Amaranth's Python simulator.

Simulates :class:`~madvq.hdl.ports.FlatMADCore`, the very top that ``madvq generate``
exports, so waveforms carry the Verilog port names. Roughly a few hundred to a few thousand
cycles per second, depending on the core's size.
"""

from pathlib import Path

from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.sim import Simulator

from madvq.hdl.ports import FlatMADCore
from .packing import pack_rows, unpack_distances, unpack_nearest
from .golden import Results
from ._base import Backend, RunResult, SimulationError, cycle_budget
from .streams import flat_port, stream_put, stream_get
from .vcd import VCDWindow


__all__ = ["AmaranthBackend"]


# The simulated clock: 10 ns, first rising edge at 5 ns (Amaranth's default phase).
PERIOD_FS = 10_000_000


class AmaranthBackend(Backend):
    name = "amaranth"

    def run(self, batch, *, vcd=None, vcd_start=0, vcd_cycles=None):
        self.check_batch(batch)
        cfg = self.config
        if vcd is not None:
            # Before any testbench exists: an unwritable path is a plain OSError.
            Path(vcd).parent.mkdir(parents=True, exist_ok=True)
            open(vcd, "w").close()
        dut = FlatMADCore(cfg)
        top = Module()
        # The core's reset (its ``rst`` port), apart from the testbench's cycle counter.
        rst = Signal(init=batch.reset_cycles > 0)
        top.submodules.dut = ResetInserter(rst)(dut)
        cycle = Signal(64)          # the clock edges so far: the index into stall patterns
        top.d.sync += cycle.eq(cycle + 1)
        reset_cycles = batch.reset_cycles

        vector = flat_port(dut, "vector", ["data"])
        codebook = flat_port(dut, "codebook", ["index", "data"])
        active = flat_port(dut, "active_templates", [""])
        result_fields = ["index", "distance"] + (["distances"] if cfg.distances else [])
        result = flat_port(dut, "result", result_fields)

        total = batch.vector_count
        limit = cycle_budget(batch)
        words = []
        done_cycles = []

        def gate(pattern):
            if pattern is None:
                return None
            n = len(pattern)
            return lambda ctx: bool(pattern[ctx.get(cycle) % n])
        may_start = gate(batch.valid_pattern)

        async def producer(ctx):
            # Nothing is offered while the core is held in reset.
            while ctx.get(cycle) < reset_cycles:
                await ctx.tick()
            for seg in batch.segments:
                for j, word in zip(seg.write_index, pack_rows(cfg, seg.write_data)):
                    await stream_put(ctx, codebook, (int(j), word), may_start=may_start)
                if seg.active is not None:
                    await stream_put(ctx, active, (seg.active,), may_start=may_start)
                for word in pack_rows(cfg, seg.vectors):
                    await stream_put(ctx, vector, (word,), may_start=may_start)

        async def consumer(ctx):
            timeout = cycle >= limit
            ready = batch.ready_pattern
            while ctx.get(cycle) < reset_cycles:
                await ctx.tick()
            ctx.set(rst, 0)
            while len(words) < total:
                if ready is None:
                    got = await stream_get(ctx, result, until=timeout)
                else:
                    now = ctx.get(cycle)
                    r = bool(ready[now % len(ready)])
                    ctx.set(result.ready, r)
                    _, _, *values, valid = await ctx.tick().sample(*result.data, result.valid)
                    got = tuple(values) if (r and valid) else None
                if got is not None:
                    words.append(got)
                elif ctx.get(cycle) >= limit:
                    raise SimulationError(
                        f"no result after {limit} cycles: {len(words)} of {total} results "
                        f"arrived")
            done_cycles.append(ctx.get(cycle))

        sim = Simulator(top)
        sim.add_clock(1e-8)          # PERIOD_FS
        sim.add_testbench(producer, background=True)
        sim.add_testbench(consumer)
        if vcd is not None:
            # Amaranth can only record from time zero: the window is cut while it is
            # written, and recording stops (the simulation goes on) once it is past.
            stop = None if vcd_cycles is None else (vcd_start + vcd_cycles) * PERIOD_FS
            with open(vcd, "w") as out:
                window = VCDWindow(out, vcd_start * PERIOD_FS, stop)
                with sim.write_vcd(window):
                    while sim.advance() and not window.finished:
                        pass
        sim.run()

        index, distance = unpack_nearest(cfg, [w[0] for w in words], [w[1] for w in words])
        results = Results(
            index=index, distance=distance,
            distances=unpack_distances(cfg, [w[2] for w in words]) if cfg.distances else None)
        return RunResult(results=results, cycles=done_cycles[0] if done_cycles else 0)

# amaranth: UnusedElaboratable=no
"""The stream crossing between two clocks: every transfer arrives once, in order, unchanged,
whatever the clocks' ratio and phase and however the two sides stall; and the check is shown
to catch a crossing that takes a transfer while the last one is still under way."""

import os
import random
import subprocess
import sys

import pytest
from amaranth.hdl import ClockDomain, Elaboratable, Module
from amaranth.sim import Simulator

from madvq.hdl.crossing import StreamCrossing


class _Rig(Elaboratable):
    """The crossing with its two clock domains, ``a`` (sending) and ``b`` (receiving)."""

    def __init__(self, crossing):
        self.crossing = crossing

    def elaborate(self, platform):
        m = Module()
        m.domains.a = ClockDomain("a")
        m.domains.b = ClockDomain("b")
        m.submodules.crossing = self.crossing
        return m


class _TakesWhileBusy(StreamCrossing):
    """A broken crossing: it takes a new payload while the last one is still crossing."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.i.ready.eq(1)
        return m


def _run(crossing, period_a, period_b, items, seed):
    rig = crossing
    rng = random.Random(seed)
    got = []

    async def send(ctx):
        for item in items:
            while rng.random() < 0.3:                 # the sender pauses now and then
                await ctx.tick("a")
            ctx.set(rig.i.payload, item)
            ctx.set(rig.i.valid, 1)
            while True:       # plain ticks: a pending `until` cannot be closed cleanly
                _, _, ready = await ctx.tick("a").sample(rig.i.ready)
                if ready:
                    break
            ctx.set(rig.i.valid, 0)
            # Not capture: the payload must stay until ready; after it, garbage.
            ctx.set(rig.i.payload, rng.randrange(256))

    async def receive(ctx):
        while len(got) < len(items):
            ready = rng.random() < 0.6                # the receiver stalls often
            ctx.set(rig.o.ready, ready)
            await ctx.tick("b")
        ctx.set(rig.o.ready, 0)

    async def watch(ctx):
        async for _, _, valid, ready, payload in ctx.tick("b").sample(
                rig.o.valid, rig.o.ready, rig.o.payload):
            if valid and ready:
                got.append(payload)

    sim = Simulator(_Rig(crossing))
    sim.add_clock(period_a, domain="a")
    sim.add_clock(period_b, domain="b", phase=period_b * rng.random())
    sim.add_testbench(send)
    sim.add_testbench(receive)
    sim.add_process(watch)
    sim.run_until(period_a * 40 * len(items) + period_b * 40 * len(items))
    return got


@pytest.mark.parametrize("capture", [True, False], ids=["capture", "held"])
@pytest.mark.parametrize("period_a, period_b", [
    (2e-9, 1e-9),      # into a clock twice as fast (the board's link to its core)
    (1e-9, 2e-9),      # into one twice as slow (the core's results to the link)
    (1e-9, 1e-9),      # the same frequency, another phase
    (3e-9, 7e-9),      # unrelated
])
def test_every_transfer_arrives_once_in_order(capture, period_a, period_b):
    items = [random.Random(k).randrange(256) for k in range(60)]
    crossing = StreamCrossing(8, i_domain="a", o_domain="b", capture=capture)
    got = _run(crossing, period_a, period_b, items, seed=len(items) + capture)
    assert got == items


def test_a_crossing_that_takes_while_busy_is_caught():
    items = list(range(40))
    crossing = _TakesWhileBusy(8, i_domain="a", o_domain="b", capture=True)
    got = _run(crossing, 1e-9, 2e-9, items, seed=1)
    assert got != items


def test_one_domain_is_refused():
    with pytest.raises(ValueError, match="two domains"):
        StreamCrossing(8, i_domain="sync", o_domain="sync", capture=True)


def test_two_clock_board_verilog_is_the_same_in_every_run(tmp_path):
    # Amaranth orders the clock domains it adds by a set: without the board's own domains
    # and port list, the Verilog's ports changed with the hash seed (1 and 3 differed).
    script = (
        "import sys, tempfile\n"
        "from madvq.sim.board import board_verilog\n"
        "from madvq.hdl.protocol import LinkConfig\n"
        "from madvq.hdl.config import CoreConfig\n"
        "link = LinkConfig(core=CoreConfig(dims=2, templates=2, width=3), clock_hz=1_000_000,"
        " baud=250_000, core_clock_ratio=2)\n"
        "sys.stdout.write(board_verilog(link, cache_dir=tempfile.mkdtemp()))\n")
    texts = [subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                            text=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
             for seed in (1, 3)]
    assert texts[0] == texts[1]
    assert "core_clk" in texts[0]

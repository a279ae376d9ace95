# amaranth: UnusedElaboratable=no
"""The stream register slice: every transfer leaves once, in order, unchanged, under random
stalls on both sides, at full rate when nothing stalls, with ``i.ready`` and ``o.valid``
from registers; and the check is shown to catch a slice that drops a payload."""

import random

import pytest
from amaranth.sim import Simulator

from madvq.hdl.registers import StreamSlice


class _OverwritesHeld(StreamSlice):
    """A broken slice: it keeps taking payloads while one is held, overwriting it."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.i.ready.eq(1)
        return m


class _ReadyPassesThrough(StreamSlice):
    """A slice that moves data right but lets the consumer's ready through to the producer
    (a held payload no longer blocks the input while the output is taken)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.i.ready.eq(self.o.ready)
        return m


def _run(dut, items, seed, *, p_send, p_take):
    """Offers ``items`` (pausing with probability 1 - p_send), takes with probability
    p_take; returns what left the slice and the cycles it took, after checking that
    ``i.ready`` and ``o.valid`` only change at clock edges."""
    rng = random.Random(seed)
    got = []
    cycles = 0

    async def send(ctx):
        for item in items:
            while rng.random() >= p_send:
                await ctx.tick()
            ctx.set(dut.i.payload, item)
            ctx.set(dut.i.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(dut.i.ready)
                if ready:
                    break
            ctx.set(dut.i.valid, 0)
            ctx.set(dut.i.payload, rng.randrange(256))

    async def receive(ctx):
        nonlocal cycles
        while len(got) < len(items):
            take = rng.random() < p_take
            # Registers, not logic: the consumer's ready does not reach the producer's
            # ready (nor the slice's valid) in the same cycle.
            before = (ctx.get(dut.i.ready), ctx.get(dut.o.valid))
            ctx.set(dut.o.ready, take)
            assert (ctx.get(dut.i.ready), ctx.get(dut.o.valid)) == before, "ready passes through"
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            cycles += 1
            if valid and take:
                got.append(payload)
            assert cycles < 20 * len(items) + 20, "the slice stopped moving"
        ctx.set(dut.o.ready, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(send)
    sim.add_testbench(receive)
    sim.run()
    return got, cycles


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("p_send,p_take", [(0.5, 0.5), (0.9, 0.3), (0.3, 0.9), (1.0, 0.7)])
def test_every_payload_leaves_once_in_order(seed, p_send, p_take):
    items = [random.Random(seed).randrange(256) for _ in range(200)]
    got, _ = _run(StreamSlice(8), items, seed, p_send=p_send, p_take=p_take)
    assert got == items


def test_full_rate_when_nothing_stalls():
    items = list(range(100))
    got, cycles = _run(StreamSlice(8), items, 0, p_send=1.0, p_take=1.0)
    assert got == items
    assert cycles <= len(items) + 2          # one per cycle, one cycle of latency


def test_the_check_catches_an_overwritten_payload():
    items = list(range(200))
    with pytest.raises(AssertionError):
        got, _ = _run(_OverwritesHeld(8), items, 1, p_send=0.9, p_take=0.3)
        assert got == items


def test_the_check_catches_a_ready_that_passes_through():
    with pytest.raises(AssertionError, match="ready passes through"):
        _run(_ReadyPassesThrough(8), list(range(50)), 2, p_send=0.9, p_take=0.5)

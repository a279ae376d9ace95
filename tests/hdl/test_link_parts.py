# amaranth: UnusedElaboratable=no
"""The link's parts on their own, against references written here: the queue filled and
drained at every depth class, the SLIP decoder and the frame encoder on random frames with
every byte that needs escaping, and the parameter checks."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from madvq.hdl.config import CoreConfig
from madvq.hdl.link import Queue, SLIPDecoder, FrameEncoder, Link, Token, ReplyQueue

from linkwire import END, ESC, ESC_END, ESC_ESC, crc16, escape


def run(dut, *benches, cycles=None):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    for bench, background in benches:
        sim.add_testbench(bench, background=background)
    sim.run()


# ---------------------------------------------------------------------------- Queue

@pytest.mark.parametrize("depth", [3, 4, 5, 6, 10, 18, 34])
def test_queue_fills_to_its_depth_and_drains_in_order(depth):
    # The memory behind the two registers is depth - 2 deep: 1, 2, 3, 4, 8, 16, 32.
    dut = Queue(12, depth)
    items = list(range(1, 3 * depth + 7))
    got = []
    accepted = []

    async def write(ctx):
        for item in items:
            ctx.set(dut.w.payload, item)
            ctx.set(dut.w.valid, 1)
            while not (await ctx.tick().sample(dut.w.ready))[-1]:
                pass
            accepted.append(item)
        ctx.set(dut.w.valid, 0)

    async def read(ctx):
        # Hold ready low far longer than the depth plus the latency: the queue fills.
        ctx.set(dut.r.ready, 0)
        assert ctx.get(dut.empty)
        await ctx.tick().repeat(2 * depth + 10)
        assert len(accepted) == depth                 # exactly full, nothing more taken
        assert not ctx.get(dut.w.ready) and not ctx.get(dut.empty)
        # Then drain with stalls of every length.
        rng = np.random.default_rng(depth)
        while len(got) < len(items):
            ready = int(rng.random() < 0.6)
            ctx.set(dut.r.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.r.valid, dut.r.payload)
            if valid and ready:
                got.append(payload)
        ctx.set(dut.r.ready, 0)
        await ctx.tick().repeat(5)
        assert ctx.get(dut.empty) and not ctx.get(dut.r.valid)

    run(dut, (write, False), (read, False))
    assert got == items


def test_queue_full_rate_and_latency():
    dut = Queue(8, 6)
    seen = []

    async def bench(ctx):
        ctx.set(dut.r.ready, 1)
        for cycle in range(40):
            ctx.set(dut.w.valid, int(cycle < 20))
            ctx.set(dut.w.payload, cycle)
            _, _, valid, payload = await ctx.tick().sample(dut.r.valid, dut.r.payload)
            if valid:
                seen.append((cycle, payload))

    run(dut, (bench, False))
    # Offered three cycles after it was written, then one item per cycle.
    assert seen == [(k + 3, k) for k in range(20)]


@pytest.mark.parametrize("depth", [2, 0, "8", True])
def test_queue_depth_checked(depth):
    with pytest.raises(ValueError, match=r"^depth must be an integer >= 3, not "):
        Queue(8, depth)


@pytest.mark.parametrize("width", [0, 1.5, None])
def test_queue_width_checked(width):
    with pytest.raises(ValueError, match=r"^width must be a positive integer, not "):
        Queue(width, 8)


# ---------------------------------------------------------------------------- SLIP

def ref_decode(items):
    """What the decoder must give for line items ``(byte, error, idle)``."""
    out, escaped, carried = [], False, False
    for byte, error, idle in items:
        damaged = bool(error or carried)
        if idle or byte == END:
            out.append((Token.IDLE if idle else Token.END, None, damaged or escaped))
            escaped = carried = False
        elif escaped:
            good = byte in (ESC_END, ESC_ESC)
            value = END if byte == ESC_END else ESC if byte == ESC_ESC else byte
            out.append((Token.DATA, value, damaged or not good))
            escaped = carried = False
        elif byte == ESC:
            escaped, carried = True, damaged
        else:
            out.append((Token.DATA, byte, damaged))
            carried = False
    return out


def test_slip_decoder_against_reference():
    rng = np.random.default_rng(3)
    specials = [END, ESC, ESC_END, ESC_ESC]
    items = []
    for _ in range(400):
        byte = int(rng.choice(specials)) if rng.random() < 0.4 else int(rng.integers(256))
        items.append((byte, int(rng.random() < 0.05), int(rng.random() < 0.03)))
    dut = SLIPDecoder()
    got = []

    async def feed(ctx):
        for byte, error, idle in items:
            ctx.set(dut.line.p.data, byte)
            ctx.set(dut.line.p.error, error)
            ctx.set(dut.line.p.idle, idle)
            ctx.set(dut.line.valid, 1)
            while not (await ctx.tick().sample(dut.line.ready))[-1]:
                pass
        ctx.set(dut.line.valid, 0)
        await ctx.tick().repeat(10)

    async def watch(ctx):
        ctx.set(dut.tokens.ready, 1)
        async for _, _, valid, kind, value, damaged in ctx.tick().sample(
                dut.tokens.valid, dut.tokens.p.kind, dut.tokens.p.data, dut.tokens.p.damaged):
            if valid:
                got.append((kind, value if kind == Token.DATA else None, bool(damaged)))

    run(dut, (feed, False), (watch, True))
    assert got == ref_decode(items)


def test_frame_encoder_against_reference():
    # Frames full of END and ESC bytes, and ones whose CRC contains them, taken with stalls.
    rng = np.random.default_rng(4)

    def special_crc(f):
        return END in crc16(f).to_bytes(2, "big") or ESC in crc16(f).to_bytes(2, "big")
    frames = []
    while len(frames) < 60 or sum(map(special_crc, frames)) < 3:
        n = int(rng.integers(1, 12))
        frame = bytes(int(rng.choice([END, ESC, 0x00, 0xDC, int(rng.integers(256))]))
                      for _ in range(n))
        if len(frames) < 60 or special_crc(frame):
            frames.append(frame)
    want = b"".join(bytes([END]) + escape(f + crc16(f).to_bytes(2, "big")) + bytes([END])
                    for f in frames)
    dut = FrameEncoder()
    got = bytearray()

    async def feed(ctx):
        for f in frames:
            for k, byte in enumerate(f):
                ctx.set(dut.frames.p.data, byte)
                ctx.set(dut.frames.p.last, int(k == len(f) - 1))
                ctx.set(dut.frames.valid, 1)
                while not (await ctx.tick().sample(dut.frames.ready))[-1]:
                    pass
                ctx.set(dut.frames.valid, 0)
                for _ in range(int(rng.integers(0, 3))):
                    await ctx.tick()

    async def watch(ctx):
        cycle = 0
        while True:
            ready = int(cycle % 5 != 0)
            ctx.set(dut.line.ready, ready)
            _, _, valid, byte = await ctx.tick().sample(dut.line.valid, dut.line.p)
            if valid and ready:
                got.append(byte)
            cycle += 1
            if len(got) == len(want):
                return

    run(dut, (feed, True), (watch, False))
    assert bytes(got) == want


# ---------------------------------------------------------------------------- parameters

def test_link_needs_a_link_config():
    with pytest.raises(TypeError, match=r"^link must be a LinkConfig, not CoreConfig\("):
        Link(CoreConfig())
    with pytest.raises(TypeError, match=r"^link must be a LinkConfig, not 3$"):
        ReplyQueue(3)

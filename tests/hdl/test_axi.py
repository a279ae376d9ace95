# amaranth: UnusedElaboratable=no
"""The AXI4-Stream + AXI4-Lite wrapper in Amaranth's simulator: the register map, AXI4-Lite
writes with address and data in every order, and vectors whose tlast/tuser come out with
their results while the result stream is blocked long enough to fill every queue."""

import numpy as np
import pytest
from amaranth.lib import fifo
from amaranth.sim import Simulator

from madvq.hdl.axi import AXIStreamMADCore
from madvq.hdl.bus import (AXIConfig, MAGIC, axi_port_table, register_map,
                           register_values)
from madvq.hdl.config import CoreConfig
from madvq.sim import golden
from madvq.sim.bench_data import bench_codebook, bench_vectors
from madvq.sim.packing import pack_rows


OKAY, SLVERR = 0, 2
SLICE = 2                   # results the output register slice holds


def _offset(axi, name):
    return next(r["offset"] for r in register_map(axi) if r["name"] == name)


async def axil_write(ctx, dut, addr, data, *, strb=0xF, order="together", gap=2):
    """One AXI4-Lite write; ``order``: address and data ``together``, address first
    (``aw``) or data first (``w``), ``gap`` idle cycles between them. Returns BRESP."""
    aw = (dut.s_axil_awvalid, dut.s_axil_awready, [(dut.s_axil_awaddr, addr)])
    w = (dut.s_axil_wvalid, dut.s_axil_wready, [(dut.s_axil_wdata, data),
                                                (dut.s_axil_wstrb, strb)])
    groups = {"together": [[aw, w]], "aw": [[aw], [w]], "w": [[w], [aw]]}[order]
    for k, group in enumerate(groups):
        if k:
            for _ in range(gap):
                await ctx.tick()
        for valid, _, fields in group:
            for signal, value in fields:
                ctx.set(signal, value)
            ctx.set(valid, 1)
        pending = list(group)
        while pending:
            sampled = await ctx.tick().sample(*(ready for _, ready, _ in pending))
            readies = sampled[-len(pending):]
            for channel, ready in list(zip(pending, readies)):
                if ready:
                    ctx.set(channel[0], 0)
                    pending.remove(channel)
    ctx.set(dut.s_axil_bready, 1)
    *_, bvalid, bresp = await ctx.tick().sample(dut.s_axil_bvalid, dut.s_axil_bresp) \
        .until(dut.s_axil_bvalid)
    ctx.set(dut.s_axil_bready, 0)
    return bresp


async def axil_read(ctx, dut, addr):
    """One AXI4-Lite read: ``(RDATA, RRESP)``."""
    ctx.set(dut.s_axil_araddr, addr)
    ctx.set(dut.s_axil_arvalid, 1)
    await ctx.tick().until(dut.s_axil_arready)
    ctx.set(dut.s_axil_arvalid, 0)
    ctx.set(dut.s_axil_rready, 1)
    *_, rdata, rresp, _ = await ctx.tick().sample(dut.s_axil_rdata, dut.s_axil_rresp,
                                                  dut.s_axil_rvalid).until(dut.s_axil_rvalid)
    ctx.set(dut.s_axil_rready, 0)
    return rdata, rresp


def _run(dut, *testbenches):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for tb, background in testbenches:
        sim.add_testbench(tb, background=background)
    sim.run()


SMALL = AXIConfig(CoreConfig(dims=2, templates=5, width=3, signed=True,
                             templates_per_cycle=2), user_width=3)


def test_ports_follow_the_table():
    dut = AXIStreamMADCore(SMALL)
    names = [p["name"] for p in axi_port_table(SMALL) if p["name"] not in ("aclk", "aresetn")]
    assert list(dut.signature.members) == names
    assert len(dut.s_axis_vector_tdata) == 8
    assert len(dut.m_axis_result_tdata) == 16        # index byte, distance byte


def test_registers_read_back():
    """Every constant register reads its value; ACTIVE reads M after reset; an address past
    the map reads 0 with SLVERR; address bits [1:0] are ignored."""
    dut = AXIStreamMADCore(SMALL)
    values = register_values(SMALL)
    got = {}

    async def bench(ctx):
        for reg in register_map(SMALL):
            got[reg["name"]] = await axil_read(ctx, dut, reg["offset"])
        got["unaligned"] = await axil_read(ctx, dut, _offset(SMALL, "DIMS") + 3)
        got["past"] = await axil_read(ctx, dut, 4 * len(register_map(SMALL)))
        got["last"] = await axil_read(ctx, dut, 0xFC)

    _run(dut, (bench, False))
    for name, value in values.items():
        assert got[name] == (value, OKAY), name
    assert got["MAGIC"] == (MAGIC, OKAY)
    assert got["DIMS"] == (2, OKAY) and got["TEMPLATES"] == (5, OKAY)
    assert got["WIDTH"] == (3, OKAY) and got["USER_WIDTH"] == (3, OKAY)
    assert got["FLAGS"] == (1, OKAY)                  # signed
    assert got["ACTIVE"] == (5, OKAY)
    assert got["VECTORS_IN"] == got["RESULTS_OUT"] == (0, OKAY)
    assert got["unaligned"] == (2, OKAY)
    assert got["past"] == got["last"] == (0, SLVERR)


@pytest.mark.parametrize("order", ["together", "aw", "w"])
def test_writes_in_every_order(order):
    """ACTIVE takes a write whose address and data arrive in either order or together;
    out-of-range counts are ignored (OKAY, read back unchanged); a write to a read-only
    register or past the map gets SLVERR and changes nothing; the strobes pick bytes."""
    dut = AXIStreamMADCore(SMALL)
    active = _offset(SMALL, "ACTIVE")
    log = []

    async def bench(ctx):
        async def write(addr, data, strb=0xF):
            log.append(("write", addr, data, await axil_write(ctx, dut, addr, data, strb=strb,
                                                              order=order)))
            log.append(("read", addr, *await axil_read(ctx, dut, active)))
        await write(active, 3)
        await write(active, 0)                       # out of range: ignored
        await write(active, 6)                       # M + 1: ignored
        await write(active, 0x80000003)              # 3 in the low bits only: ignored
        await write(active, 0x100 | 2, strb=0x1)     # byte 0 only: 2
        await write(active, 0x100 | 4, strb=0x2)     # byte 1 only: 0x100 | 2, ignored
        await write(_offset(SMALL, "DIMS"), 9)       # read-only
        await write(0x80, 1)                         # unmapped
        log.append(("dims", *await axil_read(ctx, dut, _offset(SMALL, "DIMS"))))

    _run(dut, (bench, False))
    bresps = [entry[3] for entry in log if entry[0] == "write"]
    actives = [entry[2] for entry in log if entry[0] == "read"]
    assert bresps == [OKAY] * 6 + [SLVERR, SLVERR]
    assert actives == [3, 3, 3, 3, 2, 2, 2, 2]
    assert log[-1] == ("dims", 2, OKAY)


def _tdata_fields(axi, word):
    fields = {f["name"]: f for f in axi.result_fields()}
    index = (word >> fields["index"]["lsb"]) & ((1 << fields["index"]["width"]) - 1)
    distance = (word >> fields["distance"]["lsb"]) & ((1 << fields["distance"]["width"]) - 1)
    return index, distance


def stream_check(dut, axi, *, count=40, seed=3):
    """Load a codebook, stream ``count`` vectors with random tlast/tuser and gaps, change m
    through the register half-way, while the result stream is first blocked long enough to
    fill every queue (twice what the core's queue and the result's slice hold, in cycles
    per vector, + the latency + 5 cycles) and then ready at random. Returns the mismatches
    (an empty list when all is well) and the counters read at the end."""
    cfg = axi.core
    rng = np.random.default_rng(seed)
    book = bench_codebook(cfg, rng)
    vectors = bench_vectors(cfg, book, count, rng)
    lasts = rng.integers(0, 2, count)
    users = rng.integers(0, 1 << axi.user_width, count) if axi.user_width else [0] * count
    half = count // 2
    m2 = max(1, cfg.templates - 2)
    expected = golden.classify(cfg, book, vectors[:half])
    expected2 = golden.classify(cfg, book, vectors[half:], m2)
    exp_index = np.concatenate([expected.index, expected2.index])
    exp_distance = np.concatenate([expected.distance, expected2.distance])
    depth = cfg.result_queue_depth
    blocked = 2 * (depth + SLICE) * cfg.cycles_per_vector + axi.latency_cycles + 5
    got = []
    counters = {}
    accepted = []

    async def put(ctx, valid, ready, fields):
        while rng.random() < 0.3:
            await ctx.tick()
        for signal, value in fields:
            ctx.set(signal, value)
        ctx.set(valid, 1)
        while not (await ctx.tick().sample(ready))[-1]:
            pass
        ctx.set(valid, 0)

    async def producer(ctx):
        for j, row in enumerate(book):
            await put(ctx, dut.s_axis_codebook_tvalid, dut.s_axis_codebook_tready,
                      [(dut.s_axis_codebook_tdest, j),
                       (dut.s_axis_codebook_tdata, pack_rows(cfg, [row])[0])])
        for k, row in enumerate(vectors):
            if k == half:
                assert await axil_write(ctx, dut, _offset(axi, "ACTIVE"), m2,
                                        order="w") == OKAY
            fields = [(dut.s_axis_vector_tdata, pack_rows(cfg, [row])[0]),
                      (dut.s_axis_vector_tlast, int(lasts[k]))]
            if axi.user_width:
                fields.append((dut.s_axis_vector_tuser, int(users[k])))
            await put(ctx, dut.s_axis_vector_tvalid, dut.s_axis_vector_tready, fields)
            accepted.append(k)
        # Wait for every result (or the consumer's give-up), then read the counters.
        while len(got) < count and not counters.get("consumer_done"):
            await ctx.tick()
        for name in ("VECTORS_IN", "RESULTS_OUT", "STATUS"):
            counters[name] = (await axil_read(ctx, dut, _offset(axi, name)))[0]

    async def consumer(ctx):
        for _ in range(blocked):
            await ctx.tick()
        counters["accepted_while_blocked"] = len(accepted)
        for _ in range(200 * count * cfg.latency_cycles):
            if len(got) == count:
                break
            ready = int(rng.random() < 0.6)
            ctx.set(dut.m_axis_result_tready, ready)
            *_, valid, data, last, user = await ctx.tick().sample(
                dut.m_axis_result_tvalid, dut.m_axis_result_tdata, dut.m_axis_result_tlast,
                dut.m_axis_result_tuser if axi.user_width else dut.m_axis_result_tlast)
            if valid and ready:
                got.append((*_tdata_fields(axi, data), last,
                            user if axi.user_width else 0))
        ctx.set(dut.m_axis_result_tready, 0)
        counters["consumer_done"] = True

    _run(dut, (producer, False), (consumer, False))
    expect = [(int(i), int(d), int(la), int(u))
              for i, d, la, u in zip(exp_index, exp_distance, lasts, users)]
    wrong = [(k, g, e) for k, (g, e) in enumerate(zip(got, expect)) if g != e]
    if len(got) != count:
        wrong.append(("count", len(got), count))
    return wrong, counters


STREAM_CONFIGS = [
    SMALL,
    AXIConfig(CoreConfig(dims=3, templates=4, width=4), user_width=0),
    AXIConfig(CoreConfig(dims=2, templates=3, width=2, templates_per_cycle=3,
                         arithmetic="ecp5"), user_width=5),
]


@pytest.mark.parametrize("axi", STREAM_CONFIGS, ids=lambda a: a.default_name)
def test_framing_travels_with_the_result(axi):
    wrong, counters = stream_check(AXIStreamMADCore(axi), axi)
    assert wrong == []
    # Blocked, the wrapper took exactly what the core's result queue and the result's
    # slice hold.
    assert counters["accepted_while_blocked"] == axi.core.result_queue_depth + SLICE
    assert counters["VECTORS_IN"] == counters["RESULTS_OUT"] == 40
    assert counters["STATUS"] & 1 == 0 and counters["STATUS"] >> 16 == 0


class ShallowFraming(AXIStreamMADCore):
    """A broken wrapper: its side queue is one entry shorter than the core's result queue."""

    def framing_queue(self):
        return fifo.SyncFIFO(width=1 + self.config.user_width,
                             depth=self.config.core.result_queue_depth - 1)


def test_the_check_sees_lost_framing():
    """The stream check fails a wrapper whose side queue is one entry too shallow: while the
    result stream is blocked, a vector's tlast/tuser is dropped and later results come out
    with another vector's."""
    wrong, _ = stream_check(ShallowFraming(SMALL), SMALL)
    assert wrong


@pytest.mark.parametrize("axi", [
    AXIConfig(CoreConfig(dims=3, templates=4, width=4), user_width=2),
    AXIConfig(CoreConfig(dims=3, templates=5, width=4, templates_per_cycle=2)),
    AXIConfig(CoreConfig(dims=2, templates=3, width=3, arithmetic="ecp5"), user_width=1),
], ids=lambda a: a.default_name)
def test_full_throughput_and_latency(axi):
    """With both streams always valid and ready, a vector transfers every
    ``cycles_per_vector`` cycles and each result comes ``latency_cycles`` after its vector:
    the wrapper adds no stall and one register (the result's slice)."""
    from amaranth.hdl import Module, Signal
    cfg = axi.core
    dut = AXIStreamMADCore(axi)
    top = Module()
    top.submodules.dut = dut
    cycle = Signal(32)
    top.d.sync += cycle.eq(cycle + 1)
    sent, got = [], []
    count = 12

    async def producer(ctx):
        ctx.set(dut.s_axis_vector_tvalid, 1)
        while len(sent) < count:
            *_, ready, now = await ctx.tick().sample(dut.s_axis_vector_tready, cycle)
            if ready:
                sent.append(now)
        ctx.set(dut.s_axis_vector_tvalid, 0)

    async def consumer(ctx):
        ctx.set(dut.m_axis_result_tready, 1)
        for _ in range(count * cfg.cycles_per_vector + axi.latency_cycles + 20):
            *_, valid, now = await ctx.tick().sample(dut.m_axis_result_tvalid, cycle)
            if valid:
                got.append(now)
            if len(got) == count:
                break

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    sim.run()
    assert len(got) == count
    assert got[0] - sent[0] == axi.latency_cycles == register_values(axi)["LATENCY"]
    assert axi.latency_cycles == cfg.latency_cycles + 1
    assert np.diff(sent).tolist() == [cfg.cycles_per_vector] * (count - 1)
    assert np.diff(got).tolist() == [cfg.cycles_per_vector] * (count - 1)

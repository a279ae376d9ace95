# amaranth: UnusedElaboratable=no
"""Cosimulation of the core against the golden model, and its cycle-level contract."""

import numpy as np
import pytest
from amaranth.hdl import ClockDomain, Module, ResetInserter, Signal
from amaranth.sim import Simulator

from madvq.hdl import core as core_module
from madvq.hdl.config import CoreConfig
from madvq.hdl.core import MADCore
from madvq.hdl.distance import DistanceUnit
from madvq.sim import golden
from madvq.sim.packing import pack_rows
from madvq.sim.run import simulate
from madvq.sim.stimulus import Batch
from madvq.sim.streams import stream_get, stream_port, stream_put
from scenarios import CONFIGS, config_id, scenario


@pytest.mark.parametrize("params", CONFIGS, ids=[config_id(c) for c in CONFIGS])
@pytest.mark.parametrize("stalls", [None, 0.6], ids=["full-rate", "stalls"])
def test_cosimulation(params, stalls):
    n, m, w, s, p, extra = params
    cfg = CoreConfig(dims=n, templates=m, width=w, signed=s, templates_per_cycle=p, **extra)
    # The largest cores simulate slowly: fewer random vectors there.
    vectors = 8 if n * m >= 256 else 24
    batch = scenario(cfg, seed=n * 1000 + m * 10 + w, vectors=vectors, stalls=stalls)
    run = simulate(batch)
    expected = run.check(batch)
    assert len(expected) == batch.vector_count
    if stalls is None:
        # Back-to-back vectors: the run is as long as the work, plus a few cycles per segment
        # where configuration writes hold the vectors back.
        work = sum(len(s.vectors) * cfg.cycles_per_vector for s in batch.segments)
        writes = sum(len(s.write_index) + 1 for s in batch.segments)
        assert run.cycles <= work + writes + 3 * cfg.rounds + cfg.latency_cycles + 3


# The ECP5 arithmetic (distance units in carry cells, simulated through the cells' model):
# odd and even N, N = 1, pairs of leaves split over chains, both signs, 1- and 32-bit values,
# P = 1, P < M, P = M, both storages, all distances; N = 1 with P > 1, where a distance can be
# all ones (the winner's comparisons then keep the valid flag apart).
ECP5_CONFIGS = [
    (1, 1, 1, False, 1, {}),
    (1, 4, 3, False, 4, {}),
    (3, 5, 4, True, 2, {}),
    (5, 3, 4, False, 3, {}),
    (7, 2, 1, True, 2, {}),
    (9, 4, 6, True, 4, {"distances": True}),
    (16, 3, 8, True, 1, {"storage": "ram"}),
    (2, 3, 32, False, 3, {"distances": True}),
    (16, 6, 8, False, 6, {}),
]


@pytest.mark.parametrize("params", ECP5_CONFIGS, ids=[config_id(c) for c in ECP5_CONFIGS])
@pytest.mark.parametrize("stalls", [None, 0.6], ids=["full-rate", "stalls"])
def test_cosimulation_ecp5_arithmetic(params, stalls):
    n, m, w, s, p, extra = params
    cfg = CoreConfig(dims=n, templates=m, width=w, signed=s, templates_per_cycle=p,
                     arithmetic="ecp5", **extra)
    batch = scenario(cfg, seed=n * 1000 + m * 10 + w + 7, vectors=8, stalls=stalls)
    simulate(batch).check(batch)


@pytest.mark.parametrize("arithmetic", ["generic", "ecp5"])
def test_a_codebook_write_right_after_a_vector_does_not_reach_it(arithmetic):
    """With P = M a write takes longer to land than a vector to reach the distance units:
    still, a vector sees exactly the writes that transferred before it."""
    cfg = CoreConfig(dims=2, templates=3, width=4, arithmetic=arithmetic)
    dut = MADCore(cfg)
    codebook = stream_port(dut.codebook, ["index", "template"])
    vector = stream_port(dut.vector)
    result = stream_port(dut.result, ["index", "distance"])
    got = []

    async def producer(ctx):
        for j, row in enumerate([[0, 0], [8, 8], [15, 15]]):
            await stream_put(ctx, codebook, (j, pack_rows(cfg, [row])[0]))
        # Back to back: vector, write (template 2 becomes the nearest), vector, write.
        await stream_put(ctx, vector, (pack_rows(cfg, [[6, 6]])[0],))
        await stream_put(ctx, codebook, (2, pack_rows(cfg, [[6, 6]])[0]))
        await stream_put(ctx, vector, (pack_rows(cfg, [[6, 6]])[0],))
        await stream_put(ctx, codebook, (1, pack_rows(cfg, [[6, 7]])[0]))
        await stream_put(ctx, vector, (pack_rows(cfg, [[6, 7]])[0],))

    async def consumer(ctx):
        for _ in range(3):
            got.append(await stream_get(ctx, result))

    _bench(dut, [(producer, True), (consumer, False)])
    assert got == [(1, 4), (2, 0), (1, 0)]


# Block RAM codebooks: the board default (16x16x8, P = 4, three lanes in block RAM), its
# shape scaled down, all lanes in block RAM with P dividing M and not.
COLLISION_CONFIGS = [(16, 16, 8, 4, 3), (3, 16, 4, 4, 3), (4, 16, 8, 3, 3), (2, 7, 3, 2, 2)]


@pytest.mark.parametrize("params", COLLISION_CONFIGS,
                         ids=["x".join(map(str, c[:3])) + f"p{c[3]}r{c[4]}"
                              for c in COLLISION_CONFIGS])
def test_a_block_ram_read_while_a_write_lands_is_never_used(params, monkeypatch):
    """The codebook's block RAM lanes let Yosys return anything for a read of the word
    being written (``no_rw_check``). Here every block RAM read made while a write lands
    returns random bits, whether or not it collides with the write, and still every result
    is exact: codebook writes offered right behind vectors (they land as a vector finishes
    its last round) and vectors right behind writes, under random output stalls."""
    n, m, w, p, lanes = params
    cfg = CoreConfig(dims=n, templates=m, width=w, templates_per_cycle=p, storage="ram",
                     ram_lanes=lanes)
    books = []

    class RecordedCodebook(core_module.Codebook):
        def elaborate(self, platform):
            books.append(self)
            return super().elaborate(platform)

    monkeypatch.setattr(core_module, "Codebook", RecordedCodebook)
    rng = np.random.default_rng(n * 100 + m * 10 + p)
    book = rng.integers(0, 1 << w, (m, n))
    ops, expected = [], []
    stored = np.zeros_like(book)
    for j, row in enumerate(book):
        ops.append(("codebook", (j, pack_rows(cfg, [row])[0])))
        stored[j] = row
    for _ in range(10 if n * m >= 256 else 40):
        if rng.random() < 0.5:
            j = int(rng.integers(0, m))
            row = rng.integers(0, 1 << w, n)
            ops.append(("codebook", (j, pack_rows(cfg, [row])[0])))
            stored[j] = row
        x = rng.integers(0, 1 << w, (1, n))
        ops.append(("vector", (pack_rows(cfg, x)[0],)))
        want = golden.classify(cfg, stored, x)
        expected.append((int(want.index[0]), int(want.distance[0])))

    dut = MADCore(cfg)
    ports = {"codebook": stream_port(dut.codebook, ["index", "template"]),
             "vector": stream_port(dut.vector)}
    result = stream_port(dut.result, ["index", "distance"])
    got = []
    seen = {"landings": 0, "collisions": 0}

    async def producer(ctx):
        for name, values in ops:
            await stream_put(ctx, ports[name], values)

    async def garbage(ctx):
        (codebook,) = books
        poison = np.random.default_rng(1)
        while True:
            landing = ctx.get(codebook.write_en)
            index = ctx.get(codebook.write.index)
            address = ctx.get(codebook.next_round)
            await ctx.tick()
            if not landing:
                continue
            seen["landings"] += 1
            seen["collisions"] += index % p < lanes and index // p == address
            for register in codebook._ram_templates:
                value = int.from_bytes(poison.bytes((n * w + 7) // 8), "little")
                ctx.set(register.as_value(), value & ((1 << n * w) - 1))

    async def consumer(ctx):
        stalls = np.random.default_rng(2)
        while len(got) < len(expected):
            ready = int(stalls.random() < 0.7)
            ctx.set(result.ready, ready)
            *_, valid, index, distance = await ctx.tick().sample(result.valid, *result.data)
            if valid and ready:
                got.append((index, distance))

    _bench(dut, [(producer, True), (garbage, True), (consumer, False)])
    assert got == expected
    assert seen["landings"] >= m and seen["collisions"] > 0


def test_ties_go_to_the_lowest_index():
    cfg = CoreConfig(dims=4, templates=7, width=4, templates_per_cycle=3)
    book = np.array([[0, 0, 0, 0], [2, 2, 2, 2], [1, 1, 1, 1], [2, 2, 2, 2],
                     [3, 3, 1, 1], [2, 2, 2, 2], [1, 1, 1, 1]])
    x = np.array([[2, 2, 2, 2], [1, 1, 1, 1], [1, 1, 2, 2], [3, 3, 3, 3]])
    batch = Batch.single(cfg, book, x)
    run = simulate(batch)
    run.check(batch)
    assert run.results.index.tolist() == [1, 2, 1, 1]


def _bench(dut, testbenches):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for tb, background in testbenches:
        sim.add_testbench(tb, background=background)
    sim.run()


@pytest.mark.parametrize("params", [
    (16, 16, 8, 16, "generic", 1), (3, 5, 4, 2, "generic", 1), (3, 16, 4, 3, "generic", 1),
    (1, 1, 1, 1, "generic", 1), (5, 6, 4, 6, "ecp5", 1), (3, 5, 4, 2, "ecp5", 1),
    (1, 1, 1, 1, "ecp5", 1),
    # The K nearest (hdl/topk.py): its selection tree and the merge across rounds.
    (16, 16, 8, 16, "generic", 4), (3, 5, 4, 2, "generic", 2), (3, 7, 4, 3, "generic", 4),
    (2, 4, 1, 1, "generic", 4), (3, 6, 4, 4, "ecp5", 3), (2, 5, 4, 5, "ecp5", 5)])
def test_latency_and_throughput_match_the_config(params):
    """The first result arrives exactly ``latency_cycles`` after its vector; then one result
    every ``cycles_per_vector`` cycles."""
    n, m, w, p, arithmetic, k = params
    cfg = CoreConfig(dims=n, templates=m, width=w, templates_per_cycle=p,
                     arithmetic=arithmetic, top_k=k)
    dut = MADCore(cfg)
    top = Module()
    top.submodules.dut = dut
    cycle = Signal(32)
    top.d.sync += cycle.eq(cycle + 1)
    vector = stream_port(dut.vector)
    result = stream_port(dut.result, ["index", "distance"])
    sent, got = [], []
    count = 12

    async def producer(ctx):
        for k in range(count):
            ctx.set(vector.data[0], k)
            ctx.set(vector.valid, 1)
            await ctx.tick().until(vector.ready)
            sent.append(ctx.get(cycle) - 1)
        ctx.set(vector.valid, 0)

    async def consumer(ctx):
        ctx.set(result.ready, 1)
        while len(got) < count:
            await ctx.tick().until(result.valid)
            got.append(ctx.get(cycle) - 1)

    _bench(top, [(producer, True), (consumer, False)])
    assert got[0] - sent[0] == cfg.latency_cycles
    assert np.diff(sent).tolist() == [cfg.cycles_per_vector] * (count - 1)
    assert np.diff(got).tolist() == [cfg.cycles_per_vector] * (count - 1)


# Result queue depths of both classes, powers of two and not, in both arithmetics (the
# ecp5 queue once read a full queue of a power-of-two depth as empty).
QUEUE_CONFIGS = [(3, 5, 4, 2, "generic"), (1, 1, 1, 1, "generic"), (2, 4, 3, 4, "generic"),
                 (1, 1, 1, 1, "ecp5"), (3, 3, 4, 2, "ecp5"), (2, 5, 4, 4, "ecp5"),
                 (3, 5, 4, 2, "ecp5")]


@pytest.mark.parametrize("params", QUEUE_CONFIGS,
                         ids=["{}x{}x{}p{}-{}".format(*c) for c in QUEUE_CONFIGS])
def test_streams_hold_valid_and_data_until_taken(params):
    """A protocol monitor on the result stream: the consumer first stays not ready for
    2 x the queue depth + the latency + 5 cycles (the core must take exactly
    ``result_queue_depth`` vectors meanwhile, then refuse more), then takes results at
    random. Once valid, a result stays valid and unchanged until it is taken; nothing is
    lost or duplicated."""
    n, m, w, p, arithmetic = params
    cfg = CoreConfig(dims=n, templates=m, width=w, templates_per_cycle=p,
                     arithmetic=arithmetic)
    depth = cfg.result_queue_depth
    blocked = 2 * depth + cfg.latency_cycles + 5
    dut = MADCore(cfg)
    rng = np.random.default_rng(7)
    hi = (1 << w) - 1
    book = rng.integers(0, hi + 1, (m, n))
    vectors = rng.integers(0, hi + 1, (3 * depth, n))
    expected = golden.classify(cfg, book, vectors)
    got = []
    violations = []
    accepted_while_blocked = []
    vector = stream_port(dut.vector)
    codebook = stream_port(dut.codebook, ["index", "template"])
    sent = []

    async def producer(ctx):
        for j, word in enumerate(pack_rows(cfg, book)):
            await stream_put(ctx, codebook, (j, word))
        for row, word in zip(vectors, pack_rows(cfg, vectors)):
            await stream_put(ctx, vector, (word,))
            sent.append(row)

    async def consumer(ctx):
        held = None
        for _ in range(blocked):
            await ctx.tick()
        accepted_while_blocked.append(len(sent))
        # A bound instead of a hang: a deadlocked core fails the test.
        for _ in range(100 * len(vectors) * cfg.latency_cycles):
            if len(got) == len(vectors):
                break
            ready = bool(rng.random() < 0.3)
            ctx.set(dut.result.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.result.valid,
                                                           dut.result.payload.as_value())
            if held is not None and (not valid or payload != held):
                violations.append(len(got))
            if valid and ready:
                got.append(payload)
                held = None
            elif valid:
                held = payload

    _bench(dut, [(producer, True), (consumer, False)])
    assert accepted_while_blocked == [depth]
    assert violations == []
    index_bits = cfg.index_width
    index = [r & ((1 << index_bits) - 1) for r in got]
    distance = [r >> index_bits for r in got]
    assert index == expected.index.tolist()
    assert distance == expected.distance.tolist()


@pytest.mark.parametrize("storage", ["registers", "ram"])
def test_configuration_writes_go_before_a_simultaneous_vector(storage):
    """A codebook write and an active count offered in the same cycle as a vector are
    applied first: the vector sees them."""
    cfg = CoreConfig(dims=2, templates=4, width=4, templates_per_cycle=2, storage=storage)
    dut = MADCore(cfg)
    codebook = stream_port(dut.codebook, ["index", "template"])
    active = stream_port(dut.active)
    vector = stream_port(dut.vector)
    result = stream_port(dut.result, ["index", "distance"])
    got = []
    start = []

    async def setup(ctx):
        for j, word in enumerate(pack_rows(cfg, [[9, 9], [5, 5], [15, 15], [15, 15]])):
            await stream_put(ctx, codebook, (j, word))
        await stream_put(ctx, active, (2,))
        start.append(True)
        # Same cycle as the vector below: template 0 becomes [0, 0], templates 2, 3 compete.
        await stream_put(ctx, codebook, (0, pack_rows(cfg, [[0, 0]])[0]))
        await stream_put(ctx, codebook, (2, pack_rows(cfg, [[1, 1]])[0]))

    async def setup_active(ctx):
        while not start:
            await ctx.tick()
        await stream_put(ctx, active, (4,))

    async def vectors(ctx):
        while not start:
            await ctx.tick()
        await stream_put(ctx, vector, (pack_rows(cfg, [[1, 1]])[0],))
        got.append(await stream_get(ctx, result))

    _bench(dut, [(setup, True), (setup_active, True), (vectors, False)])
    assert got == [(2, 0)]


def test_out_of_range_writes_are_ignored():
    """An active count outside 1..M and a template index >= M change nothing."""
    cfg = CoreConfig(dims=2, templates=5, width=4, templates_per_cycle=2)
    dut = MADCore(cfg)
    codebook = stream_port(dut.codebook, ["index", "template"])
    active = stream_port(dut.active)
    vector = stream_port(dut.vector)
    result = stream_port(dut.result, ["index", "distance"])
    book = np.array([[9, 9], [5, 5], [1, 1], [0, 0], [15, 15]])
    got = []

    async def tb(ctx):
        for j, word in enumerate(pack_rows(cfg, book)):
            await stream_put(ctx, codebook, (j, word))
        await stream_put(ctx, active, (3,))
        for j in (5, 6, 7):              # beyond M: ignored
            await stream_put(ctx, codebook, (j, pack_rows(cfg, [[0, 0]])[0]))
        for m in (0, 6, 7):              # outside 1..M: ignored
            await stream_put(ctx, active, (m,))
        for x in ([0, 0], [15, 15]):
            await stream_put(ctx, vector, (pack_rows(cfg, [x])[0],))
            got.append(await stream_get(ctx, result))

    _bench(dut, [(tb, False)])
    # m is still 3: template 3 ([0,0]) and 4 ([15,15]) do not compete.
    assert got == [(2, 2), (0, 12)]


def test_codebook_survives_reset_and_active_count_returns_to_m():
    cfg = CoreConfig(dims=2, templates=3, width=4)
    dut = MADCore(cfg)
    top = Module()
    top.domains.sync = sync = ClockDomain()
    top.submodules.dut = dut
    codebook = stream_port(dut.codebook, ["index", "template"])
    active = stream_port(dut.active)
    vector = stream_port(dut.vector)
    result = stream_port(dut.result, ["index", "distance"])
    probe = pack_rows(cfg, [[0, 1]])[0]
    got = []

    async def bench(ctx):
        for j, word in enumerate(pack_rows(cfg, [[8, 8], [4, 4], [0, 0]])):
            await stream_put(ctx, codebook, (j, word))
        await stream_put(ctx, active, (1,))
        await stream_put(ctx, vector, (probe,))
        got.append(await stream_get(ctx, result))
        ctx.set(result.ready, 0)
        await stream_put(ctx, vector, (probe,))      # in flight when the reset comes
        await ctx.tick().repeat(2)
        ctx.set(sync.rst, 1)
        await ctx.tick()
        ctx.set(sync.rst, 0)
        await stream_put(ctx, vector, (probe,))
        got.append(await stream_get(ctx, result))
        await ctx.tick().repeat(cfg.latency_cycles + 2)
        assert not ctx.get(result.valid)             # the vector caught by the reset is gone

    _bench(top, [(bench, False)])
    # Before the reset only template 0 competed; after it all three do and [0, 0] wins.
    assert got == [(0, 15), (2, 1)]


def _distance_unit_run(cfg, xs, ts):
    """The distances a lone distance unit gives for pairs fed one per cycle."""
    dut = DistanceUnit(cfg)
    seen = []

    async def tb(ctx):
        for k in range(len(xs) + cfg.distance_latency):
            if k < len(xs):
                ctx.set(dut.vector, xs[k].tolist())
                ctx.set(dut.template, ts[k].tolist())
            await ctx.tick()
            if k + 1 >= cfg.distance_latency:
                seen.append(ctx.get(dut.distance))

    _bench(dut, [(tb, False)])
    return seen[:len(xs)]


@pytest.mark.parametrize("arithmetic", ["generic", "ecp5"])
def test_distance_unit_alone(arithmetic):
    """The distance unit on its own, fed a new pair every cycle."""
    cfg = CoreConfig(dims=5, templates=1, width=6, signed=True, arithmetic=arithmetic)
    rng = np.random.default_rng(3)
    xs = rng.integers(-32, 32, (30, 5))
    ts = rng.integers(-32, 32, (30, 5))
    assert _distance_unit_run(cfg, xs, ts) == np.abs(xs - ts).sum(axis=1).tolist()


@pytest.mark.parametrize("dims, width, signed", [
    (1, 1, False), (2, 4, False), (3, 4, True), (5, 3, False), (7, 1, True), (9, 6, True),
    (13, 5, False), (16, 8, False), (16, 8, True), (2, 32, False)])
def test_ecp5_distance_unit_many_pairs(dims, width, signed):
    """The ECP5 tree (absolute values folded into its adders, each leaf's correction the
    carry-in of an adder above it) on random pairs, equal pairs and pairs of extreme
    values, for chains of one leaf and of several, odd and even N: 7 x 1-bit values once
    overflowed a sum whose subtree was given another subtree's correction."""
    cfg = CoreConfig(dims=dims, templates=1, width=width, signed=signed, arithmetic="ecp5")
    rng = np.random.default_rng(dims * 100 + width)
    lo, hi = cfg.value_min, cfg.value_max
    xs = rng.integers(lo, hi + 1, (160, dims), dtype=np.int64)
    ts = rng.integers(lo, hi + 1, (160, dims), dtype=np.int64)
    ts[:20] = xs[:20]
    xs[20:60] = rng.choice([lo, hi], (40, dims))
    ts[20:60] = rng.choice([lo, hi], (40, dims))
    assert _distance_unit_run(cfg, xs, ts) == np.abs(xs - ts).sum(axis=1).tolist()


@pytest.mark.parametrize("params", [(3, 5, 4, 2, "registers", None),
                                    (2, 7, 3, 2, "ram", 1), (2, 6, 3, 3, "registers", None)])
@pytest.mark.parametrize("at", [1, 2, 3])
def test_a_reset_in_the_middle_of_rounds_keeps_the_codebook_in_place(params, at):
    """A reset while a vector is part-way through its rounds stops the register rings away
    from home; the core must bring them home before the next vector or write, so that every
    later vector still sees template j in template j's place."""
    n, m, w, p, storage, lanes = params
    cfg = CoreConfig(dims=n, templates=m, width=w, templates_per_cycle=p, storage=storage,
                     ram_lanes=lanes)
    rng = np.random.default_rng(at)
    book = rng.integers(0, 1 << w, (m, n))
    vectors = rng.integers(0, 1 << w, (12, n))
    dut = MADCore(cfg)
    rst = Signal()
    top = Module()
    top.submodules.dut = ResetInserter(rst)(dut)
    codebook = stream_port(dut.codebook, ["index", "template"])
    vector = stream_port(dut.vector)
    result = stream_port(dut.result, ["index", "distance"])
    got = []

    async def producer(ctx):
        for j, row in enumerate(book):
            await stream_put(ctx, codebook, (j, pack_rows(cfg, [row])[0]))
        await stream_put(ctx, vector, (pack_rows(cfg, [vectors[0]])[0],))
        for _ in range(at):                 # into the vector's rounds
            await ctx.tick()
        ctx.set(rst, 1)
        await ctx.tick()
        ctx.set(rst, 0)
        for row in vectors[1:]:
            await stream_put(ctx, vector, (pack_rows(cfg, [row])[0],))

    async def consumer(ctx):
        for _ in range(len(vectors) - 1):
            got.append(await stream_get(ctx, result))

    _bench(top, [(producer, True), (consumer, False)])
    expected = golden.classify(cfg, book, vectors[1:])
    assert [g[0] for g in got] == expected.index.tolist()
    assert [g[1] for g in got] == expected.distance.tolist()

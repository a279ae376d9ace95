# amaranth: UnusedElaboratable=no
"""The K nearest templates in hardware (``top_k`` > 1): the parameter, the selection tree
alone, cosimulation of whole cores on all three simulators, the latency and the "none"
slots."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from madvq.hdl.config import CoreConfig, MAX_TOP_K
from madvq.hdl.ports import port_table
from madvq.hdl.topk import TopKTree
from madvq.sim.icarus_backend import find_icarus
from madvq.sim.run import simulate
from madvq.sim.stimulus import Batch, Segment
from scenarios import config_id, make_config, scenario


# -- the parameter --

def test_top_k_defaults_to_one_and_stays_out_of_the_parameters():
    cfg = CoreConfig()
    assert cfg.top_k == 1
    assert "top_k" not in cfg.to_dict()
    assert cfg.default_name == "madvq_16x16x8u_p16"


def test_top_k_round_trips_and_names_the_core():
    cfg = CoreConfig(templates=8, templates_per_cycle=3, top_k=4)
    assert cfg.to_dict()["top_k"] == 4
    assert CoreConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.default_name == "madvq_16x8x8u_p3_top4"


@pytest.mark.parametrize("templates, top_k", [(4, 0), (4, 5), (40, 17), (16, -1)])
def test_top_k_out_of_range(templates, top_k):
    top = min(templates, MAX_TOP_K)
    with pytest.raises(ValueError, match=rf"^top_k must be an integer from 1 to {top} \(the "
                                         rf"smaller of templates \({templates}\) and 16\), "
                                         rf"not {top_k}$"):
        CoreConfig(templates=templates, top_k=top_k)


@pytest.mark.parametrize("top_k", [2.0, True, "2", None])
def test_top_k_not_an_integer(top_k):
    with pytest.raises(TypeError, match=r"^top_k must be an integer from 1 to 16 "):
        CoreConfig(top_k=top_k)


def test_result_ports_pack_the_k_slots():
    cfg = CoreConfig(dims=4, templates=10, width=5, top_k=3)
    widths = {p["name"]: p["width"] for p in port_table(cfg)}
    assert widths["result_index"] == 3 * cfg.index_width
    assert widths["result_distance"] == 3 * cfg.distance_width


def test_latency_formula():
    # Two cycles per selection level instead of one; everything else as for K = 1.
    for params in [(16, 16, 8, 16), (3, 5, 4, 2), (2, 4, 1, 1), (3, 7, 4, 4)]:
        n, m, w, p = params
        one = CoreConfig(dims=n, templates=m, width=w, templates_per_cycle=p)
        two = CoreConfig(dims=n, templates=m, width=w, templates_per_cycle=p, top_k=2)
        assert two.latency_cycles == one.latency_cycles + one.argmin_levels


# -- the selection tree alone --

@pytest.mark.parametrize("lanes, top_k", [(2, 2), (5, 3), (6, 4), (7, 7), (4, 2), (3, 16)])
def test_tree_against_a_sort(lanes, top_k):
    """Random valid flags and narrow distances (ties everywhere), a new set of candidates
    every cycle: the tree's output, ``winner_latency`` cycles later, is the stable sort of
    the valid candidates by distance."""
    templates = max(lanes, top_k)
    cfg = CoreConfig(dims=1, templates=templates, width=2, templates_per_cycle=lanes,
                     top_k=top_k)
    dut = TopKTree(cfg)
    rng = np.random.default_rng(lanes * 10 + top_k)
    count = 60
    valid = rng.random((count, lanes)) < 0.7
    distance = rng.integers(0, 4, (count, lanes))
    got = []

    async def bench(ctx):
        for k in range(count + cfg.winner_latency):
            if k < count:
                for p in range(lanes):
                    ctx.set(dut.candidates[p].valid, int(valid[k, p]))
                    ctx.set(dut.candidates[p].distance, int(distance[k, p]))
            if k >= cfg.winner_latency:
                got.append([(ctx.get(s.valid), ctx.get(s.lane), ctx.get(s.distance))
                            for s in dut.nearest])
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    keep = min(top_k, lanes)
    for k in range(count):
        order = sorted((p for p in range(lanes) if valid[k, p]),
                       key=lambda p: (distance[k, p], p))[:keep]
        want = [(1, p, int(distance[k, p])) for p in order]
        assert [s for s in got[k] if s[0]] == want, k
        assert all(not s[0] for s in got[k][len(want):])


# -- whole cores --

# (dims, templates, width, signed, templates_per_cycle, extra): K = 2, 4 and M; P = M, P
# dividing M, P not dividing M, P = 1; signed; W = 1; all distances; ecp5 arithmetic; block
# RAM. The scenario's second segment has fewer active templates than K (m = 1 + (M-1)//2)
# and its last an M-way tie.
TOPK_CONFIGS = [
    (3, 5, 4, False, 5, {"top_k": 2}),
    (3, 6, 4, True, 3, {"top_k": 4}),
    (2, 7, 3, False, 3, {"top_k": 4}),
    (2, 4, 1, False, 1, {"top_k": 4}),
    (3, 5, 1, True, 5, {"top_k": 4, "distances": True}),
    (2, 5, 4, False, 2, {"top_k": 2, "distances": True}),
    (3, 6, 4, False, 4, {"top_k": 3, "arithmetic": "ecp5"}),
    (2, 6, 4, False, 2, {"top_k": 6, "storage": "ram"}),
]


def topk_id(params):
    return config_id(params).replace("-top_k", f"-top{params[5]['top_k']}")


@pytest.mark.parametrize("params", TOPK_CONFIGS, ids=[topk_id(c) for c in TOPK_CONFIGS])
@pytest.mark.parametrize("backend", ["amaranth", "verilator", "icarus"])
def test_cosimulation(params, backend):
    if backend == "icarus":
        find_icarus()
    cfg = make_config(params)
    base = scenario(cfg, seed=cfg.templates * 10 + cfg.top_k, vectors=16, stalls=0.6)
    # Then K - 1 active templates: the last slot is empty.
    rng = np.random.default_rng(cfg.templates)
    fewer = Segment(rng.integers(cfg.value_min, cfg.value_max + 1, (6, cfg.dims)),
                    active=cfg.top_k - 1)
    batch = Batch(cfg, base.segments + [fewer], valid_pattern=base.valid_pattern,
                  ready_pattern=base.ready_pattern)
    run = simulate(batch, backend=backend)
    expected = run.check(batch)
    assert run.results.index.shape == (batch.vector_count, cfg.top_k)
    assert (expected.index[-6:, -1] == cfg.none_index).all()


def test_full_rate_and_blocked_consumer():
    """Back to back vectors, then a consumer blocked long enough to fill the result queue:
    nothing is lost, and the full-rate run is as long as the work."""
    cfg = CoreConfig(dims=3, templates=7, width=4, templates_per_cycle=3, top_k=3)
    batch = scenario(cfg, seed=3, vectors=20)
    run = simulate(batch, backend="verilator")
    run.check(batch)
    work = sum(len(s.vectors) * cfg.cycles_per_vector for s in batch.segments)
    writes = sum(len(s.write_index) + 1 for s in batch.segments)
    assert run.cycles <= work + writes + 3 * cfg.rounds + cfg.latency_cycles + 3
    closed = 2 * cfg.result_queue_depth + cfg.latency_cycles + 5
    blocked = Batch(cfg, batch.segments, ready_pattern=np.array([False] * closed + [True] * 4))
    simulate(blocked, backend="verilator").check(blocked)


def test_fewer_active_than_k_and_ties():
    cfg = CoreConfig(dims=2, templates=6, width=4, templates_per_cycle=4, top_k=4)
    book = np.array([[5, 5], [1, 1], [5, 5], [0, 0], [1, 1], [1, 1]])
    x = np.array([[1, 1], [5, 5], [15, 15]])
    batch = Batch.single(cfg, book, x)
    run = simulate(batch, backend="amaranth")
    run.check(batch)
    assert run.results.index.tolist() == [[1, 4, 5, 3], [0, 2, 1, 4], [0, 2, 1, 4]]
    few = Batch.single(cfg, book[:2], x)
    run = simulate(few, backend="amaranth")
    run.check(few)
    assert run.results.index.tolist() == [[1, 0, 7, 7], [0, 1, 7, 7], [0, 1, 7, 7]]
    assert run.results.distance[:, 2:].tolist() == [[31, 31]] * 3


# Latency and throughput with top_k > 1: tests/hdl/test_core.py measures them.

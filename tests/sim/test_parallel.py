"""A long run cut into independent parts gives the results of one run."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.sim.parallel import simulate_parts, split
from madvq.sim.run import simulate
from madvq.sim.stimulus import Batch
from scenarios import random_pattern, scenario


def _same_results(a, b):
    assert np.array_equal(a.index, b.index)
    assert np.array_equal(a.distance, b.distance)
    if a.distances is not None:
        assert np.array_equal(a.distances, b.distances)


@pytest.mark.parametrize("parts", [1, 2, 3, 7, 500])
def test_parts_load_the_codebook_and_m_they_start_with(parts):
    """Cuts fall inside segments, after rewrites and active counts: each part must bring a
    fresh core to the state the whole batch had reached there."""
    cfg = CoreConfig(dims=3, templates=5, width=4, templates_per_cycle=2, distances=True)
    batch = scenario(cfg, seed=11, vectors=16)
    pieces = split(batch, parts)
    assert sum(p.vector_count for p in pieces) == batch.vector_count
    assert len(pieces) == min(parts, batch.vector_count)
    expected = batch.expected()
    joined = [p.expected() for p in pieces]
    _same_results(expected, type(expected)(
        index=np.concatenate([r.index for r in joined]),
        distance=np.concatenate([r.distance for r in joined]),
        distances=np.concatenate([r.distances for r in joined])))


@pytest.mark.parametrize("backend", ["amaranth", "verilator"])
def test_simulated_parts_equal_one_run(backend):
    cfg = CoreConfig(dims=3, templates=6, width=4, signed=True, templates_per_cycle=4)
    rng = np.random.default_rng(3)
    base = scenario(cfg, seed=5, vectors=12)
    batch = Batch(cfg, base.segments, valid_pattern=random_pattern(rng, 13, 0.7),
                  ready_pattern=random_pattern(rng, 17, 0.6))
    one = simulate(batch, backend=backend)
    one.check(batch)
    parts = simulate_parts(batch, parts=3, backend=backend, jobs=2)
    _same_results(one.results, parts.results)
    assert parts.part_vectors == tuple(p.vector_count for p in split(batch, 3))
    assert parts.cycles == sum(parts.part_cycles) and len(parts.part_cycles) == 3


def test_any_executor_runs_the_parts():
    cfg = CoreConfig(dims=2, templates=3, width=3)
    batch = scenario(cfg, seed=2, vectors=8)
    with ThreadPoolExecutor(2) as pool:
        run = simulate_parts(batch, parts=4, backend="amaranth", executor=pool)
    run.check(batch)


@pytest.mark.parametrize("parts", [0, -1, 1.5, True])
def test_bad_part_counts(parts):
    batch = scenario(CoreConfig(dims=2, templates=3, width=3), seed=2, vectors=4)
    with pytest.raises((TypeError, ValueError), match=r"^parts must be a positive integer"):
        split(batch, parts)

"""The golden model's K nearest templates (``top_k`` > 1) against a brute-force sort."""

import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.sim import golden


def brute_force(cfg, codebook, vectors, active):
    """The contract as plain Python: every active template sorted by (distance, index),
    the first K, slots past the active count all ones."""
    index, distance = [], []
    for x in vectors.tolist():
        d = [sum(abs(a - b) for a, b in zip(x, t)) for t in codebook.tolist()]
        ranked = sorted(range(active), key=lambda j: (d[j], j))[:cfg.top_k]
        pad = cfg.top_k - len(ranked)
        index.append(ranked + [cfg.none_index] * pad)
        distance.append([d[j] for j in ranked] + [cfg.none_distance] * pad)
    return index, distance


@pytest.mark.parametrize("dims, templates, width, signed, top_k", [
    (1, 2, 1, False, 2), (1, 4, 1, True, 4), (3, 5, 4, True, 3), (16, 16, 8, False, 4),
    (7, 3, 12, True, 2), (4, 6, 32, True, 6), (2, 16, 2, False, 16), (3, 20, 3, False, 16)])
def test_matches_a_brute_force_sort(dims, templates, width, signed, top_k):
    cfg = CoreConfig(dims=dims, templates=templates, width=width, signed=signed,
                     top_k=top_k, distances=True)
    rng = np.random.default_rng(dims * 100 + width + top_k)
    book = rng.integers(cfg.value_min, cfg.value_max + 1, (templates, dims), dtype=np.int64)
    # Repeated templates and narrow values: many ties.
    book[-1] = book[0]
    x = rng.integers(cfg.value_min, cfg.value_max + 1, (150, dims), dtype=np.int64)
    x[:2] = book[:1]
    x[2] = cfg.value_min
    x[3] = cfg.value_max
    for active in sorted({1, top_k - 1, top_k, (templates + 1) // 2, templates} - {0}):
        got = golden.classify(cfg, book, x, active)
        index, distance = brute_force(cfg, book, x, active)
        assert got.index.shape == (len(x), top_k)
        assert got.index.tolist() == index
        assert got.distance.tolist() == distance
        # The nearest slot is the single-winner model's answer.
        one = golden.classify(CoreConfig(dims=dims, templates=templates, width=width,
                                         signed=signed), book, x, active)
        assert got.index[:, 0].tolist() == one.index.tolist()


def test_ties_go_to_the_lower_index_and_empty_slots_are_all_ones():
    cfg = CoreConfig(dims=2, templates=6, width=4, top_k=4)
    book = np.array([[5, 5], [1, 1], [5, 5], [0, 0], [1, 1], [9, 9]])
    got = golden.classify(cfg, book, np.array([[1, 1], [5, 5]]), active=5)
    assert got.index.tolist() == [[1, 4, 3, 0], [0, 2, 1, 4]]
    assert got.distance.tolist() == [[0, 0, 2, 8], [0, 0, 8, 8]]
    few = golden.classify(cfg, book, np.array([[1, 1]]), active=2)
    assert cfg.none_index == 7 and cfg.none_distance == 31
    assert few.index.tolist() == [[1, 0, 7, 7]]
    assert few.distance.tolist() == [[0, 8, 31, 31]]


def test_mismatches_compare_every_slot():
    cfg = CoreConfig(dims=2, templates=4, width=4, top_k=3)
    a = golden.classify(cfg, np.arange(8).reshape(4, 2), np.array([[0, 0], [3, 3]]))
    b = golden.Results(a.index.copy(), a.distance.copy())
    b.index[1, 2] += 1
    assert a.mismatches(b).tolist() == [1]

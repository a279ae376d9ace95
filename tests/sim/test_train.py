"""Codebook training: k-medians and LBG under the core's L1 distance, against the golden
model."""

import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.sim import golden, train
from madvq.sim.train import train_codebook, training_config


def clustered(rng, k=600, dims=6, centres=5, width=8, signed=False, spread=6):
    """Vectors around a few random centres, clipped to the W-bit range."""
    cfg = training_config(dims, 1, width, signed)
    middle = rng.integers(cfg.value_min, cfg.value_max + 1, (centres, dims))
    x = middle[rng.integers(centres, size=k)] + rng.integers(-spread, spread + 1, (k, dims))
    return np.clip(x, cfg.value_min, cfg.value_max)


def golden_distortion(cfg, codebook, vectors):
    full = CoreConfig(dims=cfg.dims, templates=len(codebook), width=cfg.width,
                      signed=cfg.signed, templates_per_cycle=1)
    return golden.classify(full, codebook, vectors).distance.mean()


@pytest.mark.parametrize("method", train.METHODS)
def test_deterministic_for_a_seed(method):
    x = clustered(np.random.default_rng(1))
    a, ra = train_codebook(x, {"templates": 8}, method=method, seed=7)
    b, rb = train_codebook(x, {"templates": 8}, method=method, seed=7)
    assert np.array_equal(a, b) and ra.distortion == rb.distortion
    c, _ = train_codebook(x, {"templates": 8}, method=method, seed=8)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("method", train.METHODS)
@pytest.mark.parametrize("signed", [False, True])
def test_the_record_is_the_golden_models_assignment(method, signed):
    x = clustered(np.random.default_rng(2), signed=signed)
    cfg = training_config(x, 12, 8, signed)
    book, record = train_codebook(x, cfg, method=method)
    assert book.shape == (12, 6) and book.dtype == np.int64
    assert record.final_distortion == golden_distortion(cfg, book, x)
    assert record.templates_per_iteration[-1] == 12
    assert train.distortion(cfg, book, x) == record.final_distortion


def test_kmedians_distortion_never_increases_and_beats_its_seed():
    rng = np.random.default_rng(3)
    x = clustered(rng, k=2000, dims=8, centres=12, spread=20)
    _, record = train_codebook(x, {"templates": 16}, iterations=30)
    d = record.distortion
    assert len(d) > 2
    assert all(b <= a for a, b in zip(d, d[1:]))
    assert d[-1] < d[0]
    # From a given (poor) codebook too: never worse than where it started.
    initial = rng.integers(0, 256, (16, 8))
    cfg = training_config(x, 16)
    book, record = train_codebook(x, cfg, initial=initial, iterations=30)
    assert record.distortion[0] == golden_distortion(cfg, initial, x)
    assert golden_distortion(cfg, book, x) <= record.distortion[0]
    assert all(b <= a for a, b in zip(record.distortion, record.distortion[1:]))


def test_a_converged_codebook_stops_early():
    x = np.repeat(np.array([[0, 0], [100, 100], [200, 50]]), 10, axis=0)
    book, record = train_codebook(x, {"templates": 3}, iterations=50)
    assert record.converged and len(record.distortion) < 5
    assert record.final_distortion == 0
    assert sorted(map(tuple, book)) == [(0, 0), (100, 100), (200, 50)]


def test_empty_templates_are_reseeded_with_the_farthest_vectors():
    x = np.array([[0], [1], [2], [9], [10], [11], [50], [60]])
    # Templates 2 and 3 are nearest to no vector: they are moved onto the vectors farthest
    # from their own templates (60, then 50), distinct ones.
    initial = np.array([[1], [10], [250], [255]])
    book, record = train_codebook(x, {"templates": 4}, initial=initial, iterations=1)
    assert record.reseeded == [0, 2]
    assert sorted(book[2:, 0]) == [50, 60]
    assert record.final_distortion < record.distortion[0]


def test_duplicated_vectors_leave_duplicate_templates_alone():
    x = np.array([[5, 5]] * 20 + [[9, 9]] * 3)
    book, record = train_codebook(x, {"templates": 4, "width": 4})
    assert {tuple(r) for r in book} == {(5, 5), (9, 9)}
    assert record.final_distortion == 0


@pytest.mark.parametrize("width, signed", [(1, False), (1, True), (3, False), (3, True),
                                           (8, True)])
@pytest.mark.parametrize("method", train.METHODS)
def test_templates_stay_within_w_bits(width, signed, method):
    cfg = training_config(4, 6, width, signed)
    rng = np.random.default_rng(width)
    # Values piled at both ends of the range, where a split step would leave it.
    x = rng.choice([cfg.value_min, cfg.value_max, cfg.value_min + 1 if width > 1 else 0],
                   size=(300, 4))
    book, record = train_codebook(x, cfg, method=method)
    assert book.min() >= cfg.value_min and book.max() <= cfg.value_max
    golden.check_codebook(cfg, book)
    assert record.final_distortion == golden_distortion(cfg, book, x)


def test_chunks_and_bounds_do_not_change_the_result(monkeypatch):
    x = clustered(np.random.default_rng(4), k=3000, dims=5, centres=9, spread=30)
    whole, r1 = train_codebook(x, {"templates": 32}, seed=3)
    chunked, r2 = train_codebook(x, {"templates": 32}, seed=3, chunk=101)
    assert np.array_equal(whole, chunked) and r1.distortion == r2.distortion
    # Without the stored bounds every iteration is a full search: same codebook, more work.
    monkeypatch.setattr(train, "BOUNDS_BUDGET", 0)
    full, r3 = train_codebook(x, {"templates": 32}, seed=3)
    assert np.array_equal(whole, full) and r1.distortion == r3.distortion
    assert sum(r3.measured) > sum(r1.measured)


def test_lbg_reaches_a_template_count_that_is_not_a_power_of_two():
    x = clustered(np.random.default_rng(5), k=800)
    book, record = train_codebook(x, {"templates": 11}, method="lbg", iterations=5)
    assert len(book) == 11
    assert record.templates_per_iteration[0] == 1 and record.templates_per_iteration[-1] == 11
    assert sorted(set(record.templates_per_iteration)) == [1, 2, 4, 8, 11]


def test_progress_reports_every_iteration():
    x = clustered(np.random.default_rng(6))
    seen = []
    _, record = train_codebook(x, {"templates": 4}, progress=seen.append)
    assert [e["distortion"] for e in seen] == record.distortion
    assert [e["iteration"] for e in seen] == list(range(len(record.distortion)))
    d = record.to_dict()
    assert d["final_distortion"] == record.distortion[-1] and d["seed"] == 0


@pytest.mark.parametrize("call, message", [
    (lambda x: train_codebook(x, {"templates": 50}), r"50 templates need at least 50 vectors"),
    (lambda x: train_codebook(x, {"templates": 2}, method="kmeans"),
     r"method must be one of kmedians, lbg, not 'kmeans'"),
    (lambda x: train_codebook(x, {"templates": 2}, iterations=-1),
     r"iterations must be an integer >= 0, not -1"),
    (lambda x: train_codebook(x, {"templates": 2}, seed=-1), r"seed must be an integer from 0"),
    (lambda x: train_codebook(x, {"templates": 2}, chunk=0), r"chunk must be an integer >= 1"),
    (lambda x: train_codebook(x, {"templates": 2, "width": 2}), r"vectors has value \d+ at"),
    (lambda x: train_codebook(x, {"templates": 2}, initial=np.zeros((3, 3))),
     r"initial codebook must have 2 templates"),
    (lambda x: train_codebook(x, {"templates": 2}, method="lbg", initial=np.zeros((2, 3))),
     r"an initial codebook is refined by kmedians"),
])
def test_bad_arguments(call, message):
    x = np.random.default_rng(0).integers(0, 256, (20, 3))
    with pytest.raises(ValueError, match=message):
        call(x)


def test_bad_config():
    with pytest.raises(TypeError, match=r"training parameters are templates, width and "
                                        r"signed, not dims"):
        train_codebook(np.zeros((4, 2), int), {"dims": 2})
    with pytest.raises(TypeError, match=r"config must be a CoreConfig or a mapping"):
        train_codebook(np.zeros((4, 2), int), 16)

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from madvq.hdl.config import CoreConfig
from madvq.sim import golden


def loop_model(codebook, vectors, active):
    """The contract written as plain loops, independent of the vectorised model."""
    index, distance, distances = [], [], []
    for x in vectors.tolist():
        d = [sum(abs(a - b) for a, b in zip(x, t)) for t in codebook.tolist()]
        best = 0
        for j in range(1, active):
            if d[j] < d[best]:
                best = j
        index.append(best)
        distance.append(d[best])
        distances.append(d)
    return index, distance, distances


@pytest.mark.parametrize("dims, templates, width, signed", [
    (1, 1, 1, False), (1, 4, 1, True), (3, 5, 4, True), (16, 16, 8, False), (7, 3, 12, True),
    (4, 6, 32, True), (2, 2, 32, False), (16, 16, 16, False)])
def test_matches_the_loop_model(dims, templates, width, signed):
    cfg = CoreConfig(dims=dims, templates=templates, width=width, signed=signed,
                     distances=True)
    rng = np.random.default_rng(dims * 100 + width)
    book = rng.integers(cfg.value_min, cfg.value_max + 1, (templates, dims), dtype=np.int64)
    x = rng.integers(cfg.value_min, cfg.value_max + 1, (200, dims), dtype=np.int64)
    x[:2] = book[:1]
    x[2] = cfg.value_min
    x[3] = cfg.value_max
    for active in sorted({1, (templates + 1) // 2, templates}):
        got = golden.classify(cfg, book, x, active)
        index, distance, distances = loop_model(book, x, active)
        assert got.index.tolist() == index
        assert got.distance.tolist() == distance
        assert got.distances.tolist() == distances


def test_matches_scipy_cityblock_on_many_vectors():
    cfg = CoreConfig()
    rng = np.random.default_rng(5)
    book = rng.integers(0, 256, (16, 16))
    x = rng.integers(0, 256, (300_000, 16))
    got = golden.classify(cfg, book, x)
    ref = cdist(x, book, "cityblock")
    assert (got.index == ref.argmin(axis=1)).all()
    assert (got.distance == ref.min(axis=1)).all()


def test_largest_distance_fits_the_width():
    cfg = CoreConfig(dims=16, templates=2, width=32, signed=True)
    book = np.array([[cfg.value_min] * 16, [cfg.value_max] * 16])
    got = golden.classify(cfg, book, book[::-1], active=2)
    assert got.distance.tolist() == [0, 0]
    d = golden.distances(cfg, book, book)
    assert d[0, 1] == cfg.distance_max == 16 * (2 ** 32 - 1)
    assert cfg.distance_max < 2 ** cfg.distance_width


def test_ties_pick_the_lowest_index():
    cfg = CoreConfig(dims=2, templates=5, width=4)
    book = np.array([[3, 3]] * 5)
    assert golden.classify(cfg, book, [[0, 0], [15, 15]]).index.tolist() == [0, 0]


def test_no_vectors():
    cfg = CoreConfig(dims=2, templates=2, width=4, distances=True)
    got = golden.classify(cfg, np.zeros((2, 2), int), np.zeros((0, 2), int))
    assert len(got) == 0 and got.distances.shape == (0, 2)


def test_cycle_facts_come_from_the_config():
    cfg = CoreConfig(templates=16, templates_per_cycle=4)
    assert golden.latency_cycles(cfg) == cfg.latency_cycles
    assert golden.cycles_per_vector(cfg) == 4


def test_value_out_of_range():
    cfg = CoreConfig(dims=2, templates=2, width=4)
    with pytest.raises(ValueError, match=r"^vectors has value 16 at \[0, 1\] outside 0\.\.15 "
                                         r"\(unsigned 4-bit\)$"):
        golden.check_vectors(cfg, [[1, 16]])


def test_negative_value_for_unsigned():
    cfg = CoreConfig(dims=2, templates=2, width=4)
    with pytest.raises(ValueError, match=r"^vectors has value -1 at \[0, 0\] outside 0\.\.15"):
        golden.check_vectors(cfg, [[-1, 0]])


def test_signed_range():
    cfg = CoreConfig(dims=1, templates=2, width=4, signed=True)
    golden.check_vectors(cfg, [[-8], [7]])
    with pytest.raises(ValueError, match=r"^codebook has value 8 at \[0, 0\] outside -8\.\.7 "
                                         r"\(signed 4-bit\)$"):
        golden.check_codebook(cfg, [[8]])


def test_nan():
    cfg = CoreConfig(dims=2, templates=2, width=4)
    with pytest.raises(ValueError, match=r"^vectors contains NaN or infinite values"):
        golden.check_vectors(cfg, [[1.0, np.nan]])


def test_fractions():
    cfg = CoreConfig(dims=2, templates=2, width=4)
    with pytest.raises(ValueError, match=r"^vectors contains non-integer values"):
        golden.check_vectors(cfg, [[1.5, 2.0]])


def test_integral_floats_are_accepted():
    cfg = CoreConfig(dims=2, templates=2, width=4)
    assert golden.check_vectors(cfg, [[1.0, 2.0]]).tolist() == [[1, 2]]


def test_wrong_columns():
    cfg = CoreConfig(dims=3, templates=2, width=4)
    with pytest.raises(ValueError, match=r"^vectors must have 3 columns \(dims\), not 2$"):
        golden.check_vectors(cfg, [[1, 2]])


def test_wrong_rank():
    cfg = CoreConfig(dims=3, templates=2, width=4)
    with pytest.raises(ValueError, match=r"^vectors must be a 2-D array of shape \(rows, 3\), "
                                         r"not an array of shape \(2, 2, 3\)$"):
        golden.check_vectors(cfg, np.zeros((2, 2, 3), int))


def test_strings():
    cfg = CoreConfig(dims=1, templates=2, width=4)
    with pytest.raises(ValueError, match=r"^vectors must hold integers, not <U1 values$"):
        golden.check_vectors(cfg, [["a"]])


def test_too_many_templates():
    cfg = CoreConfig(dims=1, templates=2, width=4)
    with pytest.raises(ValueError, match=r"^codebook must have 1 to 2 templates \(rows\), "
                                         r"not 3$"):
        golden.check_codebook(cfg, [[1], [2], [3]])


@pytest.mark.parametrize("m", [0, 3])
def test_active_out_of_range(m):
    cfg = CoreConfig(dims=1, templates=2, width=4)
    with pytest.raises(ValueError, match=rf"^active templates must be an integer from 1 to 2, "
                                         rf"not {m}$"):
        golden.classify(cfg, [[1], [2]], [[1]], active=m)


def test_active_not_int():
    cfg = CoreConfig(dims=1, templates=2, width=4)
    with pytest.raises(TypeError, match=r"^active templates must be an integer from 1 to 2, "
                                        r"not 1\.5$"):
        golden.check_active(cfg, 1.5)


def test_classify_needs_the_whole_stored_codebook():
    cfg = CoreConfig(dims=1, templates=3, width=4)
    with pytest.raises(ValueError, match=r"^the stored codebook must have 3 rows, not 2$"):
        golden.classify(cfg, [[1], [2]], [[1]])
    assert golden.full_codebook(cfg, [[1], [2]]).tolist() == [[1], [2], [0]]

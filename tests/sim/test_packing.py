import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.sim.packing import pack_rows, pack_words, unpack_distances, unpack_rows, unpack_words


@pytest.mark.parametrize("width, signed", [(1, False), (1, True), (4, True), (8, False),
                                           (32, True), (32, False)])
def test_round_trip(width, signed):
    cfg = CoreConfig(dims=5, templates=2, width=width, signed=signed)
    rng = np.random.default_rng(width)
    rows = rng.integers(cfg.value_min, cfg.value_max + 1, (20, 5), dtype=np.int64)
    rows[0] = cfg.value_min
    rows[1] = cfg.value_max
    words = pack_rows(cfg, rows)
    assert all(0 <= w < 1 << (5 * width) for w in words)
    assert (unpack_rows(cfg, words) == rows).all()


def test_lane_i_sits_at_bits_i_times_w():
    cfg = CoreConfig(dims=3, templates=2, width=4, signed=True)
    assert pack_rows(cfg, [[1, -1, 2]]) == [0x2F1]


def test_distances_lane_order():
    cfg = CoreConfig(dims=2, templates=3, width=4, distances=True)   # 5-bit distances
    assert unpack_distances(cfg, [(3 << 10) | (2 << 5) | 1]).tolist() == [[1, 2, 3]]


def words_to_ints(words):
    return [sum(int(w) << (32 * k) for k, w in enumerate(row)) for row in words]


@pytest.mark.parametrize("dims, width, signed", [
    (1, 1, False), (5, 1, False), (7, 3, True), (3, 8, True), (16, 8, False), (5, 12, True),
    (3, 16, True), (2, 32, False), (3, 32, True), (4, 31, True), (40, 5, False)])
def test_words_match_the_integer_packing(dims, width, signed):
    """``pack_words`` lays bits out exactly as ``pack_rows``, in 32-bit words, lane pieces
    straddling words included; ``unpack_words`` inverts it."""
    cfg = CoreConfig(dims=dims, templates=2, width=width, signed=signed)
    rng = np.random.default_rng(dims * width)
    rows = rng.integers(cfg.value_min, cfg.value_max + 1, (40, dims), dtype=np.int64)
    rows[0], rows[1] = cfg.value_min, cfg.value_max
    words = pack_words(rows, width)
    assert words.dtype == np.uint32 and words.shape == (40, -(-dims * width // 32))
    assert words_to_ints(words) == pack_rows(cfg, rows)
    lanes = unpack_words(words, dims, width)
    assert (lanes == rows & ((1 << width) - 1)).all()


def test_unpack_words_distances():
    cfg = CoreConfig(dims=3, templates=5, width=32, distances=True)     # 34-bit distances
    rng = np.random.default_rng(1)
    d = rng.integers(0, cfg.distance_max + 1, (10, 5), dtype=np.int64)
    ints = [sum(int(v) << (j * 34) for j, v in enumerate(row)) for row in d]
    words = np.array([[(i >> (32 * k)) & 0xFFFFFFFF for k in range(6)] for i in ints],
                     dtype=np.uint32)
    assert (unpack_words(words, 5, 34) == d).all()
    assert (unpack_distances(cfg, ints) == d).all()

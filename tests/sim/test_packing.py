import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.sim.packing import pack_rows, unpack_rows, unpack_distances


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

"""The board link with the K nearest templates (``top_k`` > 1): identify names K, a
classify reply carries K (index, distance) pairs, the driver returns them, and the on-chip
self-test's checksum still matches the golden model."""

import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.hdl.protocol import LinkConfig
from madvq.host import Board
from madvq.sim import golden
from madvq.sim.board import SimulatedBoard, VerilatedBoard, sim_link


@pytest.mark.parametrize("cfg, backend", [
    (CoreConfig(dims=3, templates=5, width=4, signed=True, templates_per_cycle=2, top_k=3),
     "amaranth"),
    (CoreConfig(dims=3, templates=4, width=12, distances=True, top_k=4), "verilator"),
], ids=["signed-P2-top3", "12bit-distances-top4-verilator"])
def test_round_trip(cfg, backend):
    link = sim_link(cfg, max_vectors=5)
    assert link.result_bytes == cfg.top_k * (link.index_bytes + link.distance_bytes) + (
        cfg.templates * link.distance_bytes if cfg.distances else 0)
    board = Board(SimulatedBoard(link) if backend == "amaranth" else VerilatedBoard(link))
    assert board.config == cfg
    rng = np.random.default_rng(cfg.templates)
    lo, hi = cfg.value_min, cfg.value_max + 1
    book = rng.integers(lo, hi, (cfg.templates, cfg.dims))
    book[-1] = book[0]                   # a tie
    board.load_codebook(book)
    vectors = np.concatenate([np.full((1, cfg.dims), lo), book[:2],
                              rng.integers(lo, hi, (9, cfg.dims))])
    got = board.classify(vectors)
    want = golden.classify(cfg, board.stored_codebook(), vectors)
    assert got.index.shape == (len(vectors), cfg.top_k)
    assert len(got.mismatches(want)) == 0
    # Fewer active templates than K: the last slots carry the "none" marker.
    board.load_codebook(book[:cfg.top_k - 1])
    got = board.classify(vectors[:4])
    want = golden.classify(cfg, board.stored_codebook(), vectors[:4], cfg.top_k - 1)
    assert len(got.mismatches(want)) == 0
    assert (got.index[:, -1] == cfg.none_index).all()
    if cfg.distances:
        np.testing.assert_array_equal(got.distances, want.distances)
    result = board.selftest(40, seed=0x1234)
    assert result.ok


def test_identify_carries_k_and_single_winner_payloads_do_not_change():
    one = LinkConfig()
    assert one.identify_payload()[11] == 0
    # The 16x16x8 default core's payload, as version 2 always sent it.
    assert one.identify_payload().hex() == ("4d41445651" "02" "1000" "1000" "08" "00" "1000"
                                            "0000" "00" "001bb700" "40420f00" "2000" "8000"
                                            "10270000")
    for k in (2, 7, 16):
        link = LinkConfig(core=CoreConfig(top_k=k), max_vectors=8)
        payload = link.identify_payload()
        assert payload[11] >> 3 == k - 1
        assert LinkConfig.from_identify(payload) == link

"""The host driver end to end on the simulated board (driver -> simulated UART -> board top
-> core -> back), bit-exact with the golden model; and its errors without a board."""

import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.hdl.protocol import LinkConfig, encode_frame, escape
from madvq.host import Board, LinkError, LinkTimeout, Transport
from madvq.sim import golden
from madvq.sim import selftest as model
from madvq.gen.boards import board_link_config, board_spec, default_config
from madvq.hdl.protocol import Command
from madvq.sim.board import SimulatedBoard, VerilatedBoard, sim_link


@pytest.mark.parametrize("cfg, backend", [
    (CoreConfig(dims=4, templates=6, width=5, signed=True, templates_per_cycle=2,
                storage="ram"), "amaranth"),
    (CoreConfig(dims=3, templates=3, width=12, distances=True), "amaranth"),
    (CoreConfig(dims=3, templates=3, width=12, distances=True), "verilator"),
    (CoreConfig(dims=4, templates=5, width=6, templates_per_cycle=2), "amaranth-2-clocks"),
    (CoreConfig(dims=4, templates=5, width=6, templates_per_cycle=2), "verilator-2-clocks"),
], ids=["signed-ram-P2", "12bit-distances", "12bit-distances-verilator",
        "core-at-twice-the-link-clock", "core-at-twice-the-link-clock-verilator"])
def test_codebook_classify_and_selftest(cfg, backend):
    # "-2-clocks": the core and the self-test at twice the link's clock, across the
    # board top's clock crossings.
    link = sim_link(cfg, max_vectors=5, core_clock_ratio=2 if "2-clocks" in backend else 1)
    backend = backend.replace("-2-clocks", "")
    board = Board(SimulatedBoard(link) if backend == "amaranth" else VerilatedBoard(link))
    assert board.config.to_dict() == cfg.to_dict()
    rng = np.random.default_rng(cfg.templates)
    lo, hi = cfg.value_min, cfg.value_max + 1
    book = rng.integers(lo, hi, (cfg.templates - 1, cfg.dims))
    board.load_codebook(book, active=cfg.templates - 1)
    # Corner values and a few exact ties beside random vectors; more vectors than one
    # request holds, so several requests are in flight at once.
    vectors = np.concatenate([
        np.full((1, cfg.dims), lo), np.full((1, cfg.dims), hi - 1), book[:2],
        rng.integers(lo, hi, (14, cfg.dims))])
    got = board.classify(vectors)
    want = golden.classify(cfg, board.stored_codebook(), vectors, cfg.templates - 1)
    np.testing.assert_array_equal(got.index, want.index)
    np.testing.assert_array_equal(got.distance, want.distance)
    if cfg.distances:
        np.testing.assert_array_equal(got.distances, want.distances)

    result = board.selftest(40, seed=0xACE1)
    assert result.count == 40
    assert result.sums == model.expected(cfg, board.stored_codebook(), cfg.templates - 1,
                                         0xACE1, 40)
    assert result.ok
    # Full rate: one vector per cycles_per_vector, plus the pipeline's latency.
    assert result.cycles == 40 * cfg.cycles_per_vector + link.result_latency_cycles - \
        (cfg.cycles_per_vector - 1)


def test_selftest_checksum_sees_a_wrong_codebook():
    cfg = CoreConfig(dims=2, templates=2, width=4)
    board = Board(SimulatedBoard(sim_link(cfg)))
    board.load_codebook([[1, 2], [15, 14]])
    result = board.selftest(30, seed=3)
    assert result.ok
    assert model.expected(cfg, np.array([[1, 2], [15, 13]]), 2, 3, 30) != result.sums


class Dead(Transport):
    """A line with nothing on the other end; time passes as the driver waits."""
    baud = 115200

    def __init__(self, answer=b""):
        self.t = 0.0
        self.answer = answer

    def write(self, data):
        pass

    def now(self):
        return self.t

    def read(self, timeout):
        self.t += timeout
        data, self.answer = self.answer, b""
        return data


def test_no_board_is_a_timeout():
    with pytest.raises(LinkTimeout, match=r"no reply from the board within .* baud rate 115200"):
        Board(Dead(), timeout=0.5)


def test_not_a_madvq_board():
    reply = escape(encode_frame(0x81, 1, b"HELLO" + bytes(21)))
    t = Dead()
    board = None
    t.write = lambda data: setattr(t, "answer", reply)
    with pytest.raises(LinkError, match="not a madvq board"):
        board = Board(t)
    assert board is None


def test_damaged_reply():
    reply = bytearray(escape(encode_frame(0x81, 1, LinkConfig().identify_payload())))
    reply[8] ^= 0x40
    t = Dead()
    t.write = lambda data: setattr(t, "answer", bytes(reply))
    with pytest.raises(LinkError, match="damaged reply"):
        Board(t)


def test_bad_input_is_rejected_before_sending():
    cfg = CoreConfig(dims=2, templates=2, width=4)
    board = Board(SimulatedBoard(sim_link(cfg)))
    with pytest.raises(ValueError, match=r"vectors has value 16 at \[0, 1\] outside 0..15"):
        board.classify([[0, 16]])
    with pytest.raises(ValueError, match="template index must be an integer from 0 to 1"):
        board.write_template(2, [0, 0])
    with pytest.raises(ValueError, match="self-test seed must be an integer from 1"):
        board.selftest(10, seed=0)


def test_default_icebreaker_board_keeps_the_line_busy():
    """The iCEBreaker's default core at its clock and baud rate, on Verilator: bit-exact,
    and the pipelined requests keep the host-to-board line busy (the board's time is within
    5% of the time the request bytes take on the line)."""
    cfg, mhz = default_config("icebreaker")
    _, link = board_link_config(board_spec("icebreaker"), cfg, mhz, baud=1_000_000)
    assert link.core_clock_ratio == 2
    sim = VerilatedBoard(link)
    board = Board(sim)
    rng = np.random.default_rng(7)
    book = rng.integers(0, 256, (16, 16))
    board.load_codebook(book)
    vectors = rng.integers(0, 256, (8 * link.max_vectors, 16))
    start = sim.now()
    got = board.classify(vectors)
    seconds = sim.now() - start
    want = golden.classify(cfg, book, vectors)
    np.testing.assert_array_equal(got.index, want.index)
    np.testing.assert_array_equal(got.distance, want.distance)

    on_line = sum(len(escape(encode_frame(Command.CLASSIFY, 0, b"".join(
        link.encode_values(row) for row in vectors[k:k + link.max_vectors]))))
        for k in range(0, len(vectors), link.max_vectors)) * 10 / link.baud
    last_reply = (link.max_vectors * link.result_bytes + 10) * 10 / link.baud
    assert seconds <= 1.05 * (on_line + last_reply), (seconds, on_line)

    result = board.selftest(20_000, seed=0xBEEF)
    assert result.ok
    assert result.cycles == 20_000 * cfg.cycles_per_vector + link.result_latency_cycles - \
        (cfg.cycles_per_vector - 1)


def test_simulated_boards_offer_the_transport_interface():
    # The simulated boards implement Transport's interface without deriving from it (sim
    # sits below host): whatever the driver may call on a transport, they have.
    wanted = {name for name in vars(Transport) if not name.startswith("_")}
    wanted |= {"__enter__", "__exit__"}
    assert {"write", "now", "read", "close", "baud", "latency"} <= wanted
    for cls in (SimulatedBoard, VerilatedBoard):
        assert sorted(n for n in wanted if not hasattr(cls, n)) == [], cls

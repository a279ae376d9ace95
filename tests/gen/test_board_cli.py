"""``madvq classify`` and ``madvq selftest`` against the simulated board, and their errors."""

import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.sim import golden
from cli_helpers import run


@pytest.fixture
def arrays(tmp_path):
    rng = np.random.default_rng(3)
    book = rng.integers(0, 16, (3, 3))
    x = rng.integers(0, 16, (12, 3))
    np.savetxt(tmp_path / "t.csv", book, fmt="%d", delimiter=",")
    np.save(tmp_path / "x.npy", x)
    return tmp_path, book, x


def test_classify_on_the_simulated_board(capsys, arrays):
    tmp_path, book, x = arrays
    out_file = tmp_path / "r.npz"
    code, out, err = run(capsys, "classify", "--port", "sim", "--codebook",
                         str(tmp_path / "t.csv"), "--vectors", str(tmp_path / "x.npy"),
                         "--width", "4", "--active", "2", "-o", str(out_file))
    assert code == 0, err
    assert "classified 12 vectors on the simulated board" in out
    assert "at 6000000 baud" in out            # the iCEBreaker build's default link
    assert "all 12 results match the golden model" in out
    cfg = CoreConfig(dims=3, templates=3, width=4)
    want = golden.classify(cfg, book, x, 2)
    got = np.load(out_file)
    np.testing.assert_array_equal(got["index"], want.index)
    np.testing.assert_array_equal(got["distance"], want.distance)


def test_selftest_on_the_simulated_board(capsys):
    code, out, err = run(capsys, "selftest", "--port", "sim", "--backend", "amaranth",
                         "--dims", "2", "--templates", "2", "--width", "4", "--count", "50",
                         "--seed", "77")
    assert code == 0, err
    assert "self-test of madvq_2x2x4u_p2: 50 vectors in" in out
    assert "the checksum matches the golden model" in out


def test_classify_bad_input(capsys, arrays):
    tmp_path, _, _ = arrays
    code, _, err = run(capsys, "classify", "--port", "sim", "--backend", "amaranth",
                       "--codebook", str(tmp_path / "t.csv"), "--vectors",
                       str(tmp_path / "x.npy"), "--width", "3")
    assert code == 2
    assert len(err.splitlines()) == 1 and "outside 0..7 (unsigned 3-bit)" in err


def test_classify_no_such_port(capsys, arrays):
    tmp_path, _, _ = arrays
    code, _, err = run(capsys, "classify", "--port", str(tmp_path / "ttyNONE"),
                       "--codebook", str(tmp_path / "t.csv"), "--vectors",
                       str(tmp_path / "x.npy"), "--width", "4")
    assert code == 2
    assert len(err.splitlines()) == 1 and "cannot open serial port" in err


def test_selftest_bad_seed(capsys):
    code, _, err = run(capsys, "selftest", "--port", "sim", "--dims", "2", "--templates",
                       "2", "--seed", "0")
    assert code == 2 and "self-test seed must be an integer from 1" in err


@pytest.mark.parametrize("board", ["tangnano9k", "icesugar"])
def test_selftest_on_a_simulated_board(capsys, board):
    # --board: the simulated board runs that board's default build, its clocks and rate
    # (with Verilator; the Amaranth backend keeps its 4 cycles per bit): the Tang Nano 9K's
    # 72 MHz; the iCESugar's, the iCEBreaker's clocks and the iCELink's 115,200 baud.
    from madvq.gen import boards
    from madvq.sim.run import resolve_backend
    _, link = boards.board_link_config(boards.board_spec(board),
                                       *boards.default_config(board))
    code, out, err = run(capsys, "selftest", "--port", "sim", "--board", board,
                         "--dims", "2", "--templates", "2", "--width", "4", "--count", "50")
    assert code == 0, err
    assert "the checksum matches the golden model" in out
    if resolve_backend("auto") == "verilator":
        assert f"vectors/s at {link.core_clock_hz / 1e6:g} MHz" in out


@pytest.mark.parametrize("board, baud", [(None, 6_000_000), ("icebreaker", 6_000_000),
                                         ("ulx3s", 3_000_000), ("tangnano9k", 1_000_000),
                                         ("icesugar", 115_200)])
@pytest.mark.parametrize("port", ["sim", "/dev/ttyUSB9"])
def test_the_default_baud_is_the_board_builds(board, baud, port):
    """Without --baud, a board is spoken to at the rate its default build's link runs at
    (the fastest its USB-serial bridge takes that its clock makes), on a real port as on
    the simulated board."""
    from madvq.gen import boards, cli_board
    from madvq.gen.cli import build_parser
    argv = ["selftest", "--port", port] + (["--board", board] if board else [])
    args = build_parser().parse_args(argv)
    assert args.baud is None
    cli_board._check_port_flags(args, boards.default_config(board or "icebreaker")[0])
    assert args.baud == baud
    spec = boards.board_spec(board or "icebreaker")
    _, link = boards.board_link_config(spec, *boards.default_config(spec.name))
    assert link.baud == baud


def test_a_clock_that_makes_no_bridge_rate_is_refused():
    from madvq.gen import boards
    # 3 MHz: even 1 Mbaud would be 3 cycles per bit.
    with pytest.raises(ValueError, match=r"makes none of the FT2232H's rates \(down to "
                                         r"1000000 baud\) within 2%: give --baud"):
        boards.default_baud("icebreaker", 3_000_000)
    # The top rate is the bridge's, not the clock's: 100 MHz would make 12 Mbaud.
    assert boards.default_baud("ulx3s", 100_000_000) == 3_000_000
    assert boards.default_baud("icebreaker", 48_000_000) == 12_000_000

"""Regression tests for issue 10: the link under floods, on the iCEBreaker's default board
(its core at its clock, the link at half of it, 1 Mbaud) verilated.

1. A burst of one-byte junk frames must not cost the valid frame after it.
2. Bytes lost to an overflow must not cost the frame after a quiet line.
3. A self-test pipelined behind classify requests must not cost the request behind it.
"""

import numpy as np
import pytest

from madvq.gen.boards import board_link_config, board_spec, default_config
from madvq.host import Board
from madvq.sim import golden
from madvq.sim import selftest as model
from madvq.sim.board import VerilatedBoard

from linkwire import (ERROR, IDENTIFY, WRITE, CLASSIFY, SELFTEST, END, ReplySplitter, frame,
                      slip, read_replies)


def icebreaker_link():
    # The board's build: its core at its clock, the link at half of it (two clocks).
    spec = board_spec("icebreaker")
    return board_link_config(spec, *default_config("icebreaker"), baud=1_000_000)[1]


@pytest.fixture
def board():
    link = icebreaker_link()
    board = Board(VerilatedBoard(link))
    rng = np.random.default_rng(10)
    board.load_codebook(rng.integers(0, 256, (16, 16)))
    return board


def probe(board, rng):
    x = rng.integers(0, 256, (8, 16))
    got = board.classify(x)
    want = golden.classify(board.config, board.stored_codebook(), x, board.active)
    np.testing.assert_array_equal(got.index, want.index)
    np.testing.assert_array_equal(got.distance, want.distance)


@pytest.mark.parametrize("junk", [16, 64, 200])
def test_junk_burst_does_not_cost_the_next_frame(board, junk):
    t = board.transport
    t.write(bytes([END, 0x55]) * junk + slip(frame(IDENTIFY, 0x3C)))
    splitter = ReplySplitter()
    replies = read_replies(t, splitter, quiet=0.002, limit=0.2)
    assert replies and all(r.intact for r in replies)
    *errors, last = replies
    assert (last.command, last.tag) == (IDENTIFY | 0x80, 0x3C), replies[-3:]
    assert all(r.command == ERROR for r in errors)
    probe(board, np.random.default_rng(junk))


def test_junk_burst_resync_then_classify(board):
    """The issue's case through the driver: junk frames, resync, a quiet line, classify."""
    board.transport.write(bytes([END, 0x55]) * 24)
    board.resync()
    board.transport.run_for(0.15)            # longer than the link's idle timeout
    probe(board, np.random.default_rng(1))


def test_overflow_then_quiet_line_then_classify(board):
    """Bytes really lost: 400 identify requests back to back, far more than the board may
    be sent unanswered (their replies are five times longer, and the reply queue fills).
    The frames hit by the loss fail; after a resync and a quiet line the next request is
    answered."""
    t = board.transport
    tags = [k & 0xFF for k in range(400)]
    t.write(b"".join(slip(frame(IDENTIFY, tag)) for tag in tags))
    replies = read_replies(t, ReplySplitter(), quiet=0.002, limit=0.5)
    assert all(r.intact for r in replies)
    answered = [r.tag for r in replies if r.command == IDENTIFY | 0x80]
    failed = [r for r in replies if r.command == ERROR]
    assert 0 < len(answered) < 400 and failed
    sent = iter(tags)                           # the answered ones in the order sent
    assert all(any(tag == other for other in sent) for tag in answered)
    assert all(r.error[0] == 7 for r in failed), [r.error for r in failed]   # LINE
    board.resync()
    t.run_for(0.15)
    probe(board, np.random.default_rng(4))


def test_request_behind_a_running_selftest_is_refused(board):
    """The board never stops reading: a request that needs the core while a self-test runs
    is refused (BUSY); one that does not is answered; afterwards all is as before."""
    t = board.transport
    count = 100_000                                  # 25 ms of core time
    x = np.random.default_rng(5).integers(0, 256, (4, 16))
    t.write(slip(frame(SELFTEST, 1, count.to_bytes(4, "little") + (7).to_bytes(4, "little")))
            + slip(frame(CLASSIFY, 2, bytes(x.astype(np.uint8).ravel())))
            + slip(frame(IDENTIFY, 3))
            + slip(frame(WRITE, 4, (1).to_bytes(2, "little") + bytes(16)))
            + slip(frame(SELFTEST, 5, (1).to_bytes(4, "little") + (7).to_bytes(4, "little"))))
    replies = read_replies(t, ReplySplitter(), until=lambda r: len(r) >= 4, limit=0.1)
    assert [(r.command, r.tag) for r in replies] == [
        (SELFTEST | 0x80, 1), (ERROR, 2), (IDENTIFY | 0x80, 3), (ERROR, 4)], replies
    assert replies[1].error == (9, CLASSIFY, 1)
    assert replies[3].error == (9, WRITE, 2)                  # the write and the self-test
    sums = (int.from_bytes(replies[0].payload[12:16], "little"),
            int.from_bytes(replies[0].payload[16:20], "little"))
    assert sums == model.expected(board.config, board.stored_codebook(), board.active, 7, count)
    probe(board, np.random.default_rng(6))


@pytest.mark.parametrize("vectors", [16, 32])
def test_selftest_pipelined_behind_classify(board, vectors):
    """classify K vectors, self-test 1 vector, write a template: sent back to back, each
    answered in order, and the write takes effect."""
    t = board.transport
    cfg = board.config
    rng = np.random.default_rng(vectors)
    x = rng.integers(0, 256, (vectors, 16))
    template = rng.integers(0, 256, 16)
    t.write(slip(frame(CLASSIFY, 11, bytes(x.astype(np.uint8).ravel())))
            + slip(frame(SELFTEST, 12, (1).to_bytes(4, "little") + (0x5EED).to_bytes(4, "little")))
            + slip(frame(WRITE, 13, (5).to_bytes(2, "little") + bytes(template.astype(np.uint8)))))
    splitter = ReplySplitter()
    replies = read_replies(t, splitter, until=lambda r: len(r) >= 3, quiet=0.01, limit=0.2)
    assert [(r.command, r.tag) for r in replies] == [
        (CLASSIFY | 0x80, 11), (SELFTEST | 0x80, 12), (WRITE | 0x80, 13)], replies
    assert all(r.intact for r in replies)
    want = golden.classify(cfg, board.stored_codebook(), x, board.active)
    got = np.frombuffer(replies[0].payload, np.uint8).reshape(vectors, 3)
    np.testing.assert_array_equal(got[:, 0], want.index)
    np.testing.assert_array_equal(got[:, 1].astype(int) | (got[:, 2].astype(int) << 8),
                                  want.distance)
    sums = (int.from_bytes(replies[1].payload[12:16], "little"),
            int.from_bytes(replies[1].payload[16:20], "little"))
    assert sums == model.expected(cfg, board.stored_codebook(), board.active, 0x5EED, 1)
    board.codebook[5] = template
    probe(board, rng)

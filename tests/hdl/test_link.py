"""The serial protocol on the simulated board, bit level included: damaged, truncated,
oversized and unknown frames get an error reply, the link resynchronises by itself, and the
codebook is always exactly what was last validly written."""

import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.hdl.protocol import (Command, ErrorCode, ERROR_REPLY, REPLY_BIT, END, ESC,
                                FrameDecoder, encode_frame, escape)
from madvq.host import Board, ErrorReply
from madvq.sim import golden
from madvq.sim.board import simulated_board, sim_link


CFG = CoreConfig(dims=4, templates=4, width=8, distances=True, templates_per_cycle=2)


class Raw:
    """Frames by hand, beside the driver, on one simulated board."""

    def __init__(self, board):
        self.board = board
        self.t = board.transport
        self.decoder = FrameDecoder()
        self.tag = 100

    def send(self, command, payload=b"", *, tag=None):
        self.tag = (self.tag + 1) & 0xFF if tag is None else tag
        self.t.write(escape(encode_frame(command, self.tag, payload)))
        return self.tag

    def replies(self, n, timeout=0.05):
        got = []
        end = self.t.now() + timeout
        while len(got) < n and self.t.now() < end:
            got += self.decoder.feed(self.t.read(end - self.t.now()))
        assert len(got) == n, f"{len(got)} replies, expected {n}: {got}"
        for f in got:
            assert f.problem is None, f.problem
        return got

    def quiet(self):
        """No reply comes within a while."""
        got = self.decoder.feed(self.t.read(0.004))
        assert got == []

    def expect_error(self, code, command=None, count=1):
        (f,) = self.replies(1)
        assert f.command == ERROR_REPLY, f
        assert f.payload[0] == code, (ErrorCode(f.payload[0]), code)
        if command is not None:
            assert f.payload[1] == command
        assert int.from_bytes(f.payload[2:4], "little") == count, f
        return f


@pytest.fixture(scope="module", params=["amaranth", "verilator", "verilator-2-clocks"])
def rig(request):
    # The same cases on both simulators of the board, and on a board whose core runs at
    # twice the link's clock (the iCE40 boards' builds).
    ratio = 2 if request.param.endswith("2-clocks") else 1
    transport = simulated_board(sim_link(CFG, max_vectors=4, timeout_bytes=16,
                                         core_clock_ratio=ratio),
                                backend=request.param.replace("-2-clocks", ""))
    board = Board(transport)
    rng = np.random.default_rng(5)
    book = rng.integers(0, 256, (4, 4))
    board.load_codebook(book)
    probes = rng.integers(0, 256, (4, 4))
    return board, Raw(board), probes


def check_state(rig):
    """The board answers a valid frame, and holds exactly the codebook last written."""
    board, raw, probes = rig
    got = board.classify(probes)
    want = golden.classify(CFG, board.stored_codebook(), probes, board.active)
    np.testing.assert_array_equal(got.distances, want.distances)
    np.testing.assert_array_equal(got.index, want.index)


def template_frame(raw, index, values, tag=7):
    return encode_frame(Command.WRITE_TEMPLATE, tag,
                        index.to_bytes(2, "little") + bytes(values))


def test_identify_reports_the_core(rig):
    board, raw, _ = rig
    assert board.config.to_dict() == CFG.to_dict()
    assert board.link.max_vectors == 4


def test_random_garbage(rig):
    board, raw, _ = rig
    rng = np.random.default_rng(11)
    garbage = bytes(rng.integers(0, 256, 150, dtype=np.uint8))
    raw.t.write(garbage + bytes([END]))
    frames = []
    end = raw.t.now() + 0.05
    while raw.t.now() < end:
        frames += raw.decoder.feed(raw.t.read(end - raw.t.now()))
    assert frames, "garbage was answered with nothing"
    assert all(f.command == ERROR_REPLY for f in frames)
    check_state(rig)


def test_truncated_frame_then_idle_line(rig):
    board, raw, _ = rig
    frame = escape(template_frame(raw, 1, [9, 9, 9, 9]))
    raw.t.write(frame[:6])                 # END + a header and one value, then silence
    raw.expect_error(ErrorCode.TIMEOUT)
    check_state(rig)


def test_truncated_frame_then_valid_frame(rig):
    board, raw, _ = rig
    frame = escape(template_frame(raw, 2, [1, 2, 3, 4]))
    raw.t.write(frame[:5])                 # no END: the next frame's END cuts it off
    tag = raw.send(Command.IDENTIFY)
    err, ok = raw.replies(2)
    assert err.command == ERROR_REPLY and err.payload[0] == ErrorCode.TRUNCATED
    assert ok.command == Command.IDENTIFY | REPLY_BIT and ok.tag == tag
    check_state(rig)


def test_short_frame(rig):
    board, raw, _ = rig
    # The error reply names the command and tag as far as they arrived.
    raw.t.write(bytes([END, 0x01, 0x02, END]))
    assert raw.expect_error(ErrorCode.TRUNCATED, 0x01).tag == 0x02
    raw.t.write(bytes([END, 0x01, END]))
    assert raw.expect_error(ErrorCode.TRUNCATED, 0x01).tag == 0
    check_state(rig)


def test_bad_crc_template_write_changes_nothing(rig):
    board, raw, _ = rig
    frame = bytearray(template_frame(raw, 0, [200, 201, 202, 203]))
    frame[6] ^= 0x10
    raw.t.write(escape(bytes(frame)))
    raw.expect_error(ErrorCode.CHECK, Command.WRITE_TEMPLATE)
    check_state(rig)


def test_bad_crc_classify_returns_no_results(rig):
    board, raw, probes = rig
    frame = bytearray(encode_frame(Command.CLASSIFY, 3, bytes(range(8))))
    frame[-1] ^= 1
    raw.t.write(escape(bytes(frame)))
    raw.expect_error(ErrorCode.CHECK, Command.CLASSIFY)
    raw.quiet()
    check_state(rig)


def test_unknown_command(rig):
    board, raw, _ = rig
    raw.send(0x42, b"abc")
    raw.expect_error(ErrorCode.UNKNOWN_COMMAND, 0x42)
    check_state(rig)


def test_oversized_length(rig):
    board, raw, _ = rig
    raw.t.write(escape(bytes([Command.CLASSIFY, 9, 0x60, 0xEA]) + bytes(10)))
    raw.expect_error(ErrorCode.OVERSIZED, Command.CLASSIFY)
    check_state(rig)


def test_frame_longer_than_its_length(rig):
    board, raw, _ = rig
    frame = template_frame(raw, 1, [5, 6, 7, 8])
    raw.t.write(escape(frame + b"\x00\x00\x00"))
    raw.expect_error(ErrorCode.OVERSIZED, Command.WRITE_TEMPLATE)
    check_state(rig)


def test_bad_lengths_and_arguments(rig):
    board, raw, _ = rig
    raw.send(Command.WRITE_TEMPLATE, bytes(5))
    raw.expect_error(ErrorCode.BAD_LENGTH, Command.WRITE_TEMPLATE)
    raw.send(Command.CLASSIFY, bytes(6))           # 1.5 vectors
    raw.expect_error(ErrorCode.BAD_LENGTH, Command.CLASSIFY)
    raw.send(Command.CLASSIFY, bytes(20))          # 5 vectors, 4 allowed: too long
    raw.expect_error(ErrorCode.OVERSIZED, Command.CLASSIFY)
    raw.send(Command.CLASSIFY, b"")
    raw.expect_error(ErrorCode.BAD_LENGTH, Command.CLASSIFY)
    raw.send(Command.WRITE_TEMPLATE, (4).to_bytes(2, "little") + bytes(4))
    raw.expect_error(ErrorCode.BAD_ARGUMENT, Command.WRITE_TEMPLATE)
    raw.send(Command.SET_ACTIVE, (0).to_bytes(2, "little"))
    raw.expect_error(ErrorCode.BAD_ARGUMENT, Command.SET_ACTIVE)
    raw.send(Command.SELFTEST, bytes(8))
    raw.expect_error(ErrorCode.BAD_ARGUMENT, Command.SELFTEST)
    check_state(rig)


def test_bad_escape_and_line_break(rig):
    board, raw, _ = rig
    raw.t.write(bytes([END, Command.IDENTIFY, ESC, 0x00, 0, 0, 0, 0, END]))
    raw.expect_error(ErrorCode.LINE)
    raw.t.write(bytes([END, Command.IDENTIFY, 1]))
    raw.t.send_break()
    raw.t.write(bytes([END]))
    raw.expect_error(ErrorCode.LINE)
    check_state(rig)


def test_valid_writes_take_effect_between_bad_ones(rig):
    board, raw, _ = rig
    board.write_template(3, [17, 0, 255, 128])
    bad = bytearray(template_frame(raw, 3, [1, 1, 1, 1]))
    bad[5] ^= 0xFF
    raw.t.write(escape(bytes(bad)))
    raw.expect_error(ErrorCode.CHECK)
    board.set_active(3)
    check_state(rig)
    with pytest.raises(ErrorReply, match="out of range"):
        board._request(Command.SET_ACTIVE, (9).to_bytes(2, "little"))
    board.set_active(4)
    check_state(rig)

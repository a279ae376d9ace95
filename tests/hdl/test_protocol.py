"""The protocol's host-side pieces without a board: identify replies carry the whole
configuration (version 2), bad ones are refused with a clear message, and a link whose
classify reply would not fit the length field is refused."""

import re

import pytest
from amaranth.hdl import Signal

from madvq.gen.boards import default_config
from madvq.hdl.config import CoreConfig
from madvq.hdl.protocol import (VERSION, Command, ErrorCode, LinkConfig, encode_frame,
                                ERROR_REPLY)
from madvq.host import ErrorReply


def same(a, b):
    return (a.core.to_dict(), a.clock_hz, a.baud, a.max_vectors, a.timeout_bytes) == \
        (b.core.to_dict(), b.clock_hz, b.baud, b.max_vectors, b.timeout_bytes)


@pytest.mark.parametrize("core", [
    CoreConfig(),
    CoreConfig(dims=3, templates=5, width=12, signed=True, distances=True,
               templates_per_cycle=2, storage="ram"),
    CoreConfig(templates_per_cycle=4, storage="ram", ram_lanes=3),
    CoreConfig(dims=1, templates=1, width=32, arithmetic="ecp5"),
    default_config("icebreaker")[0],
    default_config("ulx3s")[0],
], ids=["default", "signed-ram", "ram3", "ecp5-1x1x32", "icebreaker", "ulx3s"])
def test_identify_carries_the_whole_configuration(core):
    link = LinkConfig(core=core, clock_hz=24_000_000, baud=1_000_000, max_vectors=17,
                      timeout_bytes=123)
    payload = link.identify_payload()
    assert len(payload) == LinkConfig.IDENTIFY_BYTES and payload[5] == VERSION == 2
    back = LinkConfig.from_identify(payload)
    assert same(back, link)
    assert back.core.default_name == core.default_name


def test_ulx3s_default_core_is_named_right():
    # Version 1 dropped the arithmetic: the host called this core madvq_16x16x8u_p16.
    link = LinkConfig(core=default_config("ulx3s")[0], clock_hz=100_000_000)
    assert LinkConfig.from_identify(link.identify_payload()).core.default_name == \
        "madvq_16x16x8u_p16_ecp5"


def test_identify_refusals():
    good = bytearray(LinkConfig().identify_payload())
    with pytest.raises(ValueError, match="not a madvq board"):
        LinkConfig.from_identify(b"HELLO" + bytes(good[5:]))
    old = bytearray(good)
    old[5] = 1
    with pytest.raises(ValueError, match="speaks protocol version 1; this host speaks "
                                         "version 2: rebuild the bitstream or update madvq"):
        LinkConfig.from_identify(old)
    with pytest.raises(ValueError, match="has 32 bytes, not 33"):
        LinkConfig.from_identify(good[:-1])
    unknown = bytearray(good)
    unknown[16] = 7                                    # an arithmetic this host lacks
    with pytest.raises(ValueError, match="names a core this host does not know"):
        LinkConfig.from_identify(unknown)
    bad = bytearray(good)
    bad[6:8] = (0).to_bytes(2, "little")              # zero dimensions
    with pytest.raises(ValueError, match=re.escape("inconsistent: dims must be an integer "
                                                   "from 1 to 1024, not 0")):
        LinkConfig.from_identify(bad)
    depth = bytearray(good)
    depth[27] ^= 1
    with pytest.raises(ValueError, match=r"inconsistent \(result queue depth\)"):
        LinkConfig.from_identify(depth)


def test_classify_reply_must_fit_the_length_field():
    core = CoreConfig(dims=16, templates=16, width=12, distances=True)
    with pytest.raises(ValueError, match=r"max_vectors 4096 is too many for this core: a "
                                         r"classify reply of 35 bytes per vector .* at most "
                                         r"1872 vectors per request"):
        LinkConfig(core=core, max_vectors=4096)
    assert LinkConfig(core=core, max_vectors=1872).max_vectors == 1872


def test_window_is_the_drivers_limit():
    assert LinkConfig(max_vectors=32).window == 4
    assert LinkConfig(max_vectors=5).window == 6         # 32 results hold six requests


def test_enums_have_shapes():
    # Named values in waveforms: the enums are Amaranth enums with a shape.
    assert Signal(ErrorCode).shape().width == 4 and Signal(Command, init=1).shape().width == 8
    assert ErrorCode.BUSY == 9 and ErrorCode(9).text == "the board was running a self-test"
    assert Command(4) is Command.CLASSIFY


def test_error_reply_message_counts_the_frames():
    assert str(ErrorReply(Command.WRITE_TEMPLATE, ErrorCode.CHECK)) == \
        "the board rejected the write_template request: the frame's CRC did not match (CHECK)"
    assert str(ErrorReply(Command.CLASSIFY, ErrorCode.BUSY, 3)).endswith(
        "the board was running a self-test (BUSY); 2 more failed frame(s) followed")
    assert encode_frame(ERROR_REPLY, 1, b"\x01\x02\x03\x00")[0] == ERROR_REPLY

"""The serial protocol between a host and a madvq board, shared by gateware and host driver.

Framing (both directions)
-------------------------
A frame is ``command, tag, length (2 bytes, little-endian), payload (length bytes),
check (2 bytes, big-endian)``; the check is :data:`CRC` (CRC-16/IBM-3740, from
``amaranth.lib.crc``, the same object the gateware is built from) over everything before it.
On the line a frame is SLIP-delimited: it starts and ends with :data:`END`, and the bytes
:data:`END` and :data:`ESC` inside it are sent as ``ESC ESC_END`` and ``ESC ESC_ESC``.

Why SLIP delimiting on top of a length and a check: a delimiter that cannot occur inside a
frame makes resynchronisation immediate. After garbage, a truncated frame or a lost byte, the
next :data:`END` ends the damaged frame (which gets an error reply) and the following frame is
read intact, so one bad frame never swallows the next one. The length tells a truncated frame
from an overlong one, and lets the board refuse an oversized request before reading it.
A frame left unfinished on an idle line is ended by a timeout. Empty frames (two
:data:`END` in a row) are ignored, so a host may send :data:`END` at any time to flush.

Requests and replies
--------------------
Every frame is answered, in order. An intact request gets exactly one reply with its tag:
the request command with bit 7 set. A frame that fails (damaged, cut off, unknown or
refused) is answered by an error reply, :data:`ERROR_REPLY` with payload ``code, command,
count (2)``: consecutive failed frames share one error reply, which carries the first one's
tag, code and command and counts the frames it answers (see :class:`ErrorCode`). See
:class:`Command` for the payloads. Values travel in ``value_bytes = ceil(W/8)`` bytes each,
little-endian two's complement; template indices and counts in 2 bytes.

The classify request is classified as it arrives, but its results are held back until its
check has passed: a corrupt request is answered with an error only. A template write or an
active-count change takes effect only when its whole frame has checked, so no damaged or
interrupted frame changes what the board holds.

Version 2 (this one) differs from version 1 in two places: ``identify`` carries the whole
configuration (``ram_lanes``, ``arithmetic`` and the idle timeout were missing), and an error
reply has 4 bytes of payload (the count was added) and may answer several frames; a request
that needs the core while a self-test runs is refused (``BUSY``, new) instead of waiting.

Top-K cores (``top_k`` > 1) extend version 2 without a new version: ``identify``'s flags byte
carries ``top_k - 1`` in bits 3..6 (zero for every single-winner core, whose payload is
byte for byte what it was), and a classify result holds ``top_k`` (index, distance) pairs.
A host that predates top-K refuses such a board at ``identify`` (it rejects flag bits above
bit 2 as "a core this host does not know"), so it never misreads the longer results.
In the same way flag bit 7 says that the core runs at twice the link's clock (the clock
field is the link's, as before); a host from before it refuses such a board.

This module imports nothing from Amaranth but the CRC catalog and ``amaranth.lib.enum`` (for
the enums' shapes in gateware), so the host side stays light.
"""

from dataclasses import dataclass

from amaranth.lib import enum
from amaranth.lib.crc import catalog

from .config import CoreConfig


__all__ = ["VERSION", "CRC", "END", "ESC", "ESC_END", "ESC_ESC", "Command", "ERROR_REPLY",
           "ErrorCode", "LinkConfig", "uart_divisor", "BAUD_TOLERANCE", "encode_frame",
           "FrameDecoder", "escape", "HEADER_BYTES", "CHECK_BYTES", "ERROR_REPLY_BYTES"]


VERSION = 2

CRC = catalog.CRC16_IBM_3740
END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD

HEADER_BYTES = 4
CHECK_BYTES = 2
ERROR_REPLY_BYTES = 4


class Command(enum.IntEnum, shape=8):
    """Request commands. Payloads (request -> reply):

    * ``IDENTIFY``: empty -> :meth:`LinkConfig.identify_payload` (the protocol version, the
      core's :class:`CoreConfig` and the link's parameters).
    * ``WRITE_TEMPLATE``: index (2), N values -> index (2).
    * ``SET_ACTIVE``: m (2), 1..M -> m (2).
    * ``CLASSIFY``: K vectors of N values, 1 <= K <= ``max_vectors`` -> K results, each
      index (``index_bytes``), distance (``distance_bytes``) and, when the core reports
      them, M distances (``distance_bytes`` each). A core built with ``top_k`` > 1 sends
      ``top_k`` (index, distance) pairs, nearest first, before the M distances.
    * ``SELFTEST``: count (4), seed (4, not 0) -> count (4), cycles (8), sum1 (4), sum2 (4):
      ``count`` on-chip LFSR vectors run through the core at full clock; ``cycles`` from the
      first vector offered to the last result taken; ``sum1``/``sum2`` the Fletcher-style
      sums of the results (see :mod:`madvq.sim.selftest`).
    """
    IDENTIFY = 0x01
    WRITE_TEMPLATE = 0x02
    SET_ACTIVE = 0x03
    CLASSIFY = 0x04
    SELFTEST = 0x05


REPLY_BIT = 0x80
ERROR_REPLY = 0xFF


class ErrorCode(enum.IntEnum, shape=4):
    """Codes of an error reply, and what each means. ``CHECK``, ``TRUNCATED``, ``OVERSIZED``,
    ``LINE`` and ``TIMEOUT`` say that a frame did not arrive intact; ``UNKNOWN_COMMAND``,
    ``BAD_LENGTH``, ``BAD_ARGUMENT`` and ``BUSY`` that an intact frame was refused. The board
    checks a frame's integrity before its meaning and reports the first problem it finds."""
    NONE = 0           # no error (never sent: the frame was intact and accepted)
    CHECK = 1          # the CRC did not match
    TRUNCATED = 2      # shorter than its header and check, or than its length field says
    OVERSIZED = 3      # longer than its length field says, or a length above the maximum
    UNKNOWN_COMMAND = 4
    BAD_LENGTH = 5     # a length the command does not take
    BAD_ARGUMENT = 6   # a template index >= M, m outside 1..M, a zero count or seed
    LINE = 7           # a UART framing error (a break), a bad escape or bytes lost
    TIMEOUT = 8        # the line went idle in the middle of the frame
    BUSY = 9           # it needed the core (or the self-test) while a self-test ran

    @property
    def text(self):
        return _ERROR_TEXT[self]


_ERROR_TEXT = {
    ErrorCode.NONE: "no error",
    ErrorCode.CHECK: "the frame's CRC did not match",
    ErrorCode.TRUNCATED: "the frame was truncated",
    ErrorCode.OVERSIZED: "the frame was longer than allowed",
    ErrorCode.UNKNOWN_COMMAND: "unknown command",
    ErrorCode.BAD_LENGTH: "the payload length does not suit the command",
    ErrorCode.BAD_ARGUMENT: "an argument was out of range",
    ErrorCode.LINE: "bytes were damaged or lost on the line",
    ErrorCode.TIMEOUT: "the line went idle in the middle of the frame",
    ErrorCode.BUSY: "the board was running a self-test",
}


def _bytes_for(bits):
    return -(-bits // 8)


def _check_int_range(name, value, low=1, high=None):
    """``TypeError`` unless ``value`` is an integer, ``ValueError`` unless it is from ``low``
    to ``high`` (no upper bound: None)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if value < low or (high is not None and value > high):
        allowed = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {allowed}, not {value}")


#: How far a UART's rate may be from the rate asked for (the other end's, exact): 2% leaves
#: the receiver's mid-bit sample more than a third of a bit from an edge after ten bits.
BAUD_TOLERANCE = 0.02


def uart_divisor(clock_hz, baud):
    """Clock cycles per bit of a UART at ``baud`` from a ``clock_hz`` clock: the nearest whole
    number, at least 4, and making the rate within :data:`BAUD_TOLERANCE`; ``ValueError``
    naming the problem otherwise."""
    divisor = max(1, round(clock_hz / baud))
    if divisor < 4:
        raise ValueError(f"the baud rate {baud} is too high for a {clock_hz} Hz clock: the "
                         f"UART needs at least 4 clock cycles per bit, so at most "
                         f"{clock_hz // 4} baud")
    error = abs(clock_hz / divisor - baud) / baud
    if error > BAUD_TOLERANCE:
        raise ValueError(f"the baud rate {baud} cannot be made from a {clock_hz} Hz clock "
                         f"within 2% (off by {error:.1%}); choose a rate near clock/k, e.g. "
                         f"{clock_hz // divisor}")
    return divisor


@dataclass(frozen=True)
class LinkConfig:
    """A core behind a serial link: what the board top is built from and what ``identify``
    reports.

    Parameters
    ----------
    core : CoreConfig
    clock_hz : int
        The link's clock (the UART's divisor is counted in it).
    baud : int
        Serial bit rate; the UART divisor is ``round(clock_hz / baud)`` (>= 4).
    max_vectors : int
        Vectors per classify request (1..4096).
    timeout_bytes : int
        A frame left unfinished for this many byte times is ended with a timeout error.
    core_clock_ratio : int
        The core's clock over the link's: 1 (one clock for the whole board) or 2 (the core
        and the self-test at twice the link's clock, as an iCE40 PLL makes the two: its
        output and half of it). With 2 the board top crosses between the two clocks
        (:mod:`madvq.hdl.crossing`), so the core runs as fast as it closes timing while the
        link stays at a clock it meets.
    """

    core: CoreConfig = CoreConfig()
    clock_hz: int = 12_000_000
    baud: int = 1_000_000
    max_vectors: int = 32
    timeout_bytes: int = 10_000
    core_clock_ratio: int = 1

    def __post_init__(self):
        if not isinstance(self.core, CoreConfig):
            raise TypeError(f"core must be a CoreConfig, not {self.core!r}")
        _check_int_range("clock_hz", self.clock_hz, 1_000)
        _check_int_range("baud", self.baud, 1)
        uart_divisor(self.clock_hz, self.baud)
        _check_int_range("max_vectors", self.max_vectors, 1, 4096)
        if self.max_vectors * self.result_bytes > 0xFFFF:
            raise ValueError(f"max_vectors {self.max_vectors} is too many for this core: a "
                             f"classify reply of {self.result_bytes} bytes per vector must "
                             f"fit the 16-bit length field, so at most "
                             f"{0xFFFF // self.result_bytes} vectors per request")
        _check_int_range("timeout_bytes", self.timeout_bytes, 4, 1 << 20)
        _check_int_range("core_clock_ratio", self.core_clock_ratio, 1, 2)

    # -- derived --

    @property
    def core_clock_hz(self):
        """The core's (and the self-test's) clock."""
        return self.clock_hz * self.core_clock_ratio

    @property
    def result_latency_cycles(self):
        """Core clock cycles from a vector's transfer into the core to its result being
        offered to the link or the self-test: the core's latency, plus one with two clocks,
        where the results leave through a register slice (see BoardTop)."""
        return self.core.latency_cycles + (self.core_clock_ratio != 1)

    @property
    def divisor(self):
        """Clock cycles per serial bit."""
        return uart_divisor(self.clock_hz, self.baud)

    @property
    def timeout_cycles(self):
        return self.timeout_bytes * 10 * self.divisor

    @property
    def value_bytes(self):
        return _bytes_for(self.core.width)

    @property
    def vector_bytes(self):
        return self.core.dims * self.value_bytes

    @property
    def index_bytes(self):
        return _bytes_for(self.core.index_width)

    @property
    def distance_bytes(self):
        return _bytes_for(self.core.distance_width)

    @property
    def result_bytes(self):
        n = (self.index_bytes + self.distance_bytes) * self.core.top_k
        if self.core.distances:
            n += self.core.templates * self.distance_bytes
        return n

    @property
    def result_queue_depth(self):
        """Results the board can hold: four full classify requests, so that a host can keep
        four in flight and the line stays busy across a USB serial adapter's latency (a
        millisecond or more, several requests' worth at 1 Mbaud)."""
        return 1 << (4 * self.max_vectors - 1).bit_length()

    @property
    def window(self):
        """Requests a host may keep unanswered (sent, its reply not yet received) without
        ever overrunning the board: as many full classify requests as the result queue
        holds. The host driver keeps this many in flight."""
        return self.result_queue_depth // self.max_vectors

    #: Most frames one error reply counts; a longer run of failed frames gets more replies.
    MAX_ERROR_COUNT = 4095

    @property
    def max_payload(self):
        return max(self.max_vectors * self.vector_bytes, 2 + self.vector_bytes, 8)

    def request_length(self, command):
        """Payload length a request takes (``None`` for classify: a multiple of a vector)."""
        return {
            Command.IDENTIFY: 0,
            Command.WRITE_TEMPLATE: 2 + self.vector_bytes,
            Command.SET_ACTIVE: 2,
            Command.CLASSIFY: None,
            Command.SELFTEST: 8,
        }[command]

    SELFTEST_REPLY_BYTES = 20
    IDENTIFY_MAGIC = b"MADVQ"
    IDENTIFY_BYTES = 33
    _ARITHMETIC_CODES = {"generic": 0, "ecp5": 1}

    def identify_payload(self):
        """What the board answers to ``identify``: magic, version, the whole core
        configuration, the clock, the baud rate, vectors per request, result queue depth and
        the idle timeout (see the README's protocol table for the layout). The clock is the
        link's; flag bit 7 says that the core runs at twice it."""
        c = self.core
        flags = ((c.signed << 0) | (c.distances << 1) | ((c.codebook_storage == "ram") << 2)
                 | ((c.top_k - 1) << 3) | ((self.core_clock_ratio == 2) << 7))
        return (self.IDENTIFY_MAGIC + bytes([VERSION])
                + c.dims.to_bytes(2, "little") + c.templates.to_bytes(2, "little")
                + bytes([c.width, flags]) + c.templates_per_cycle.to_bytes(2, "little")
                + (c.ram_lanes or 0).to_bytes(2, "little")
                + bytes([self._ARITHMETIC_CODES[c.arithmetic]])
                + self.clock_hz.to_bytes(4, "little") + self.baud.to_bytes(4, "little")
                + self.max_vectors.to_bytes(2, "little")
                + self.result_queue_depth.to_bytes(2, "little")
                + self.timeout_bytes.to_bytes(4, "little"))

    @classmethod
    def from_identify(cls, payload):
        """The :class:`LinkConfig` an ``identify`` reply describes (the board's own, with
        storage ``"auto"`` named ``"registers"``); ``ValueError`` when the payload is not one
        this host understands."""
        payload = bytes(payload)
        magic = cls.IDENTIFY_MAGIC
        if len(payload) < len(magic) + 1 or payload[:len(magic)] != magic:
            raise ValueError("the board's identify reply does not start with "
                             f"{magic!r}: not a madvq board")
        version = payload[len(magic)]
        if version != VERSION:
            raise ValueError(f"the board speaks protocol version {version}; this host speaks "
                             f"version {VERSION}: rebuild the bitstream or update madvq")
        if len(payload) != cls.IDENTIFY_BYTES:
            raise ValueError(f"the board's identify reply has {len(payload)} bytes, "
                             f"not {cls.IDENTIFY_BYTES}")
        u16 = lambda k: int.from_bytes(payload[k:k + 2], "little")
        u32 = lambda k: int.from_bytes(payload[k:k + 4], "little")
        flags = payload[11]
        arithmetic = {v: k for k, v in cls._ARITHMETIC_CODES.items()}.get(payload[16])
        if arithmetic is None:
            raise ValueError("the board's identify reply names a core this host does not "
                             "know: update madvq")
        ram = bool(flags & 4)
        try:
            core = CoreConfig(dims=u16(6), templates=u16(8), width=payload[10],
                              signed=bool(flags & 1), distances=bool(flags & 2),
                              templates_per_cycle=u16(12),
                              storage="ram" if ram else "registers",
                              ram_lanes=u16(14) if ram else None, arithmetic=arithmetic,
                              top_k=((flags >> 3) & 0xF) + 1)
            link = cls(core=core, clock_hz=u32(17), baud=u32(21), max_vectors=u16(25),
                       timeout_bytes=u32(29), core_clock_ratio=1 + (flags >> 7))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the board's identify reply is inconsistent: {exc}") from None
        if link.result_queue_depth != u16(27):
            raise ValueError("the board's identify reply is inconsistent (result queue depth)")
        return link

    # -- values as bytes --

    def encode_values(self, row):
        """N values as ``vector_bytes`` bytes."""
        nb = self.value_bytes
        mask = (1 << (8 * nb)) - 1
        return b"".join((int(v) & mask).to_bytes(nb, "little") for v in row)


def escape(frame):
    """``frame`` as it travels on the line: END, escaped bytes, END."""
    out = bytearray([END])
    for b in frame:
        if b == END:
            out += bytes([ESC, ESC_END])
        elif b == ESC:
            out += bytes([ESC, ESC_ESC])
        else:
            out.append(b)
    out.append(END)
    return bytes(out)


def encode_frame(command, tag, payload=b""):
    """The unescaped frame: header, payload and check."""
    payload = bytes(payload)
    body = bytes([command & 0xFF, tag & 0xFF]) + len(payload).to_bytes(2, "little") + payload
    check = CRC(8).compute(body)
    return body + check.to_bytes(2, "big")


@dataclass(frozen=True)
class Frame:
    """A received frame: ``command``, ``tag``, ``payload``; ``problem`` names what is wrong
    with it (``None`` when it is intact)."""
    command: int
    tag: int
    payload: bytes
    problem: str = None


class FrameDecoder:
    """Splits received bytes into frames (the host side of the framing).

    ``feed(data)`` returns the frames completed by ``data``; damaged ones come back with
    ``problem`` set rather than raising, so that the caller decides what they mean.
    """

    def __init__(self):
        self._buf = None        # None: between frames
        self._esc = False
        self._bad = None

    def feed(self, data):
        frames = []
        for b in data:
            if b == END:
                if self._buf:
                    frames.append(self._finish())
                self._buf = bytearray()
                self._esc = False
                self._bad = None
                continue
            if self._buf is None:       # garbage before the first END
                continue
            if self._esc:
                self._esc = False
                if b == ESC_END:
                    self._buf.append(END)
                elif b == ESC_ESC:
                    self._buf.append(ESC)
                else:
                    self._bad = f"bad escape sequence 0x{ESC:02x} 0x{b:02x}"
            elif b == ESC:
                self._esc = True
            else:
                self._buf.append(b)
        return frames

    def _finish(self):
        buf = bytes(self._buf)
        self._buf = None
        if len(buf) < HEADER_BYTES + CHECK_BYTES:
            return Frame(buf[0] if buf else 0, buf[1] if len(buf) > 1 else 0, b"",
                         f"a frame of only {len(buf)} bytes")
        command, tag = buf[0], buf[1]
        length = int.from_bytes(buf[2:4], "little")
        payload = buf[HEADER_BYTES:-CHECK_BYTES]
        if self._bad is not None:
            return Frame(command, tag, payload, self._bad)
        if CRC(8).compute(buf[:-CHECK_BYTES]) != int.from_bytes(buf[-CHECK_BYTES:], "big"):
            return Frame(command, tag, payload, "the reply's CRC did not match")
        if length != len(payload):
            return Frame(command, tag, payload,
                         f"the reply's length field says {length} bytes but it holds "
                         f"{len(payload)}")
        return Frame(command, tag, payload)

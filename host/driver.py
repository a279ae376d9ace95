"""The host driver of a madvq board.

:class:`Board` opens a :class:`~madvq.host.transport.Transport`, reads the board's parameters
(``identify`` answers with the protocol version and the core's
:class:`~madvq.hdl.config.CoreConfig`, so nothing else need be known), loads a codebook,
classifies arrays of vectors and runs the on-chip self-test. Classification is pipelined:
requests keep being sent while earlier replies come back, as many as the board's result
queue holds, so the line stays busy in both directions. Every check of user data is the
golden model's, so the board rejects nothing the simulators accept.

Timeouts, damaged replies and error replies become exceptions (:class:`LinkTimeout`,
:class:`LinkError`, :class:`ErrorReply`, all :class:`BoardError`) whose message says what
happened and what to try.
"""

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from madvq.hdl.protocol import (Command, ErrorCode, ERROR_REPLY, ERROR_REPLY_BYTES, REPLY_BIT,
                                END, LinkConfig, FrameDecoder, encode_frame, escape)
from madvq.sim import golden
from madvq.sim import selftest as selftest_model


__all__ = ["Board", "BoardError", "LinkError", "LinkTimeout", "ErrorReply", "SelfTestResult",
           "check_timeout"]


def check_timeout(timeout):
    """``timeout`` as a float when it is a positive, finite number of seconds (NaN would
    never expire, infinity waits for ever on a silent board, and a negative or zero wait is
    no wait); ``ValueError`` otherwise."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, np.integer,
                                                             np.floating)) \
            or not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive, finite number of seconds, "
                         f"not {timeout!r}")
    return float(timeout)


class BoardError(Exception):
    """Something went wrong talking to the board."""


class LinkTimeout(BoardError):
    """No (complete) reply within the time the board should have needed."""


class LinkError(BoardError):
    """A reply was damaged, unexpected or out of order."""


class ErrorReply(BoardError):
    """The board answered a request with an error (``count``: how many consecutive failed
    frames that error reply answers, this request first)."""

    def __init__(self, command, code, count=1):
        self.command = command
        self.code = code
        self.count = count
        try:
            text = ErrorCode(code).text
            name = ErrorCode(code).name
        except ValueError:
            text, name = "unknown error", str(code)
        try:
            what = Command(command).name.lower()
        except ValueError:
            what = f"command 0x{command:02x}"
        more = f"; {count - 1} more failed frame(s) followed" if count > 1 else ""
        super().__init__(f"the board rejected the {what} request: {text} ({name}){more}")


@dataclass
class SelfTestResult:
    """One self-test run: ``count`` vectors in ``cycles`` cycles of the core's clock
    (``clock_hz``), the sums the board reported and those the golden model expects
    (``None`` when not checked)."""
    count: int
    seed: int
    cycles: int
    sums: tuple
    expected: tuple = None
    clock_hz: int = None

    @property
    def ok(self):
        return self.expected is None or self.sums == self.expected

    @property
    def cycles_per_vector(self):
        return self.cycles / self.count

    @property
    def vectors_per_second(self):
        return self.count * self.clock_hz / self.cycles


class Board:
    """A madvq board behind ``transport``.

    ``Board(transport)`` sends an empty frame (which resynchronises the board's receiver),
    drops whatever was waiting on the line and asks for the board's parameters: ``link``
    (a :class:`~madvq.hdl.protocol.LinkConfig`) and ``config`` (its core) are then known.
    The codebook the board holds is tracked in ``codebook`` as far as this object wrote it
    (rows never written are ``None``).
    """

    def __init__(self, transport, *, timeout=2.0):
        self.transport = transport
        self._decoder = FrameDecoder()
        self._frames = deque()
        self._tag = 0
        self._timeout = check_timeout(timeout)
        self.transport.write(bytes([END]))
        self.drain()
        payload = self._request(Command.IDENTIFY, b"")
        try:
            self.link = LinkConfig.from_identify(payload)
        except (ValueError, TypeError) as exc:
            raise LinkError(str(exc)) from None
        self.config = self.link.core
        self.active = self.config.templates
        self.codebook = [None] * self.config.templates

    # -- framing --

    def _next_tag(self):
        self._tag = (self._tag + 1) & 0xFF
        return self._tag

    def _send(self, command, payload):
        tag = self._next_tag()
        self.transport.write(escape(encode_frame(command, tag, payload)))
        return tag

    def _byte_time(self):
        return 10 / self.transport.baud

    def _receive(self, timeout):
        """The next reply frame, waiting at most ``timeout`` board seconds."""
        deadline = self.transport.now() + timeout
        while not self._frames:
            left = deadline - self.transport.now()
            if left <= 0:
                raise LinkTimeout(f"no reply from the board within {timeout:.3g} s: is it "
                                  f"programmed with a madvq bitstream and is the baud rate "
                                  f"{self.transport.baud}?")
            data = self.transport.read(left)
            if data:
                self._frames.extend(self._decoder.feed(data))
        return self._frames.popleft()

    def _check_reply(self, frame, command, tag):
        if frame.problem is not None:
            raise LinkError(f"a damaged reply from the board ({frame.problem}); the link "
                            f"is noisy or the baud rate is wrong")
        if frame.tag != tag:
            raise LinkError(f"a reply for request {frame.tag} arrived while request {tag} "
                            f"was expected: replies were lost or the line is shared")
        if frame.command == ERROR_REPLY:
            if len(frame.payload) != ERROR_REPLY_BYTES:
                raise LinkError("a malformed error reply from the board")
            raise ErrorReply(frame.payload[1], frame.payload[0],
                             int.from_bytes(frame.payload[2:4], "little"))
        if frame.command != (command | REPLY_BIT):
            raise LinkError(f"the board answered request {Command(command).name.lower()} "
                            f"with reply 0x{frame.command:02x}")
        return frame.payload

    def _reply_time(self, request_bytes, reply_bytes, extra=0.0):
        # Both directions at line rate, twice over for escaping, plus a fixed margin.
        return self._timeout + 2 * (request_bytes + reply_bytes + 16) * self._byte_time() + extra

    def _request(self, command, payload, *, reply_bytes=64, extra_time=0.0):
        tag = self._send(command, payload)
        frame = self._receive(self._reply_time(len(payload), reply_bytes, extra_time))
        return self._check_reply(frame, command, tag)

    def drain(self, quiet=None):
        """Discard every byte and reply until the line has been quiet for ``quiet`` board
        seconds (default: 32 byte times plus the transport's latency); return the number of
        replies dropped."""
        if quiet is None:
            quiet = 32 * self._byte_time() + self.transport.latency
        dropped = len(self._frames)
        self._frames.clear()
        while True:
            data = self.transport.read(quiet)
            if not data:
                break
            dropped += len(self._decoder.feed(data))
        self._decoder = FrameDecoder()
        return dropped

    def resync(self):
        """After an error: an empty frame ends whatever the board was receiving; then every
        reply still on its way is dropped."""
        self.transport.write(bytes([END]))
        return self.drain()

    # -- commands --

    def write_template(self, index, template):
        """Store ``template`` (N values) as template ``index``."""
        if not isinstance(index, (int, np.integer)) or not 0 <= index < self.config.templates:
            raise ValueError(f"template index must be an integer from 0 to "
                             f"{self.config.templates - 1}, not {index!r}")
        row = golden.check_values("template", np.asarray(template).reshape(1, -1),
                                  self.config.dims, self.config)[0]
        payload = int(index).to_bytes(2, "little") + self.link.encode_values(row)
        got = self._request(Command.WRITE_TEMPLATE, payload, reply_bytes=2)
        if int.from_bytes(got, "little") != index:
            raise LinkError(f"the board acknowledged template {int.from_bytes(got, 'little')} "
                            f"instead of {index}")
        self.codebook[int(index)] = row.copy()

    def set_active(self, active):
        """Let templates 0..active-1 compete."""
        active = golden.check_active(self.config, active)
        got = self._request(Command.SET_ACTIVE, active.to_bytes(2, "little"), reply_bytes=2)
        if int.from_bytes(got, "little") != active:
            raise LinkError("the board acknowledged a different active-template count")
        self.active = active

    def load_codebook(self, codebook, active=None):
        """Write ``codebook`` (m x N) to templates 0..m-1 and make ``active`` (default m)
        of them compete."""
        codebook = golden.check_codebook(self.config, codebook)
        for j, row in enumerate(codebook):
            self.write_template(j, row)
        self.set_active(len(codebook) if active is None else active)

    def stored_codebook(self):
        """The M x N codebook the board holds (rows this object never wrote as zero, as after
        power-up)."""
        return np.array([row if row is not None else np.zeros(self.config.dims, np.int64)
                         for row in self.codebook], dtype=np.int64)

    def classify(self, vectors, *, progress=None):
        """Results (:class:`~madvq.sim.golden.Results`) of the board for ``vectors`` (K x N),
        sent ``max_vectors`` per request with as many requests in flight as the board's
        result queue holds. ``progress(done)`` is called as results arrive."""
        vectors = golden.check_vectors(self.config, vectors)
        link = self.link
        per = link.max_vectors
        window = link.window
        chunks = [vectors[k:k + per] for k in range(0, len(vectors), per)]
        parts = []
        pending = deque()                   # (tag, count) of requests in flight
        sent = 0
        while sent < len(chunks) or pending:
            while sent < len(chunks) and len(pending) < window:
                chunk = chunks[sent]
                payload = b"".join(link.encode_values(row) for row in chunk)
                pending.append((self._send(Command.CLASSIFY, payload), len(chunk)))
                sent += 1
            tag, count = pending.popleft()
            in_flight = sum(c for _, c in pending) + count
            frame = self._receive(self._reply_time(in_flight * link.vector_bytes,
                                                   in_flight * link.result_bytes))
            payload = self._check_reply(frame, Command.CLASSIFY, tag)
            if len(payload) != count * link.result_bytes:
                raise LinkError(f"the board returned {len(payload)} bytes of results for "
                                f"{count} vectors")
            parts.append(payload)
            if progress is not None:
                progress(sum(len(p) for p in parts) // link.result_bytes)
        return self._decode_results(b"".join(parts), len(vectors))

    def _decode_results(self, blob, k):
        link, cfg = self.link, self.config
        raw = np.frombuffer(blob, dtype=np.uint8).reshape(k, link.result_bytes)
        def field(start, nbytes):
            value = np.zeros(k, dtype=np.int64)
            for b in range(nbytes):
                value |= raw[:, start + b].astype(np.int64) << (8 * b)
            return value
        ib, db = link.index_bytes, link.distance_bytes
        if cfg.top_k == 1:
            index = field(0, ib)
            distance = field(ib, db)
        else:                   # the K nearest, (index, distance) pairs, nearest first
            K = cfg.top_k
            index = np.zeros((k, K), np.int64)
            distance = np.zeros((k, K), np.int64)
            for s in range(K):
                index[:, s] = field(s * (ib + db), ib)
                distance[:, s] = field(s * (ib + db) + ib, db)
        first = cfg.top_k * (ib + db)
        distances = None
        if cfg.distances:
            distances = np.stack([field(first + j * db, db) for j in range(cfg.templates)],
                                 axis=1) if k else np.zeros((0, cfg.templates), np.int64)
        return golden.Results(index=index, distance=distance, distances=distances)

    def selftest(self, count=1 << 20, seed=0x5EED, *, check=True):
        """Run ``count`` on-chip LFSR vectors through the core at full clock. With ``check``,
        the golden model recomputes the checksum from the codebook this object wrote (the
        whole codebook must have been written, or be zero since power-up)."""
        count = selftest_model.check_count(count)
        seed = selftest_model.check_seed(seed)
        cfg = self.config
        run_time = (count * cfg.cycles_per_vector + 1000) / self.link.core_clock_hz
        got = self._request(Command.SELFTEST,
                            count.to_bytes(4, "little") + seed.to_bytes(4, "little"),
                            reply_bytes=20, extra_time=2 * run_time)
        if len(got) != self.link.SELFTEST_REPLY_BYTES:
            raise LinkError(f"a self-test reply of {len(got)} bytes")
        n = int.from_bytes(got[0:4], "little")
        if n != count:
            raise LinkError(f"the board ran {n} self-test vectors instead of {count}")
        result = SelfTestResult(
            count=count, seed=seed, cycles=int.from_bytes(got[4:12], "little"),
            sums=(int.from_bytes(got[12:16], "little"), int.from_bytes(got[16:20], "little")),
            clock_hz=self.link.core_clock_hz)
        if check:
            result.expected = selftest_model.expected(cfg, self.stored_codebook(), self.active,
                                                      seed, count)
        return result

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

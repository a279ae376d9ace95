"""A seeded protocol fuzz of the simulated board.

Valid writes, active counts, classify and identify requests and self-tests, pipelined up to
the driver's window, mixed with garbage, truncated frames, flipped CRC bits, wrong and
oversized length fields, unknown commands, bad escapes, out-of-range arguments and bad
lengths, breaks, idle lines in the middle of a frame and bursts of at least 64 junk frames.
Frames are written with the tests' own encoder (``linkwire``). A reference receiver, written
here from the README's rules, decides what the board must make of every byte: which frames
it sees, each one's verdict (a reply, or a failure with its code, command and tag), and what
an intact request does to the codebook and the active count. Every reply is checked
against it: each intact request gets exactly its reply, in order (classify probes with all
distances prove the codebook and m), and the error replies between two replies answer
exactly the frames that failed between the two requests, each naming the first frame it
answers. Nothing is lost.

The default run: 1,200 cases on the verilated board and 120 on Amaranth's simulator; ``-m
deep`` runs 20,000 cases on the verilated board. ``MADVQ_FUZZ_SEED`` picks another seed.
"""

import os
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.sim import golden
from madvq.sim import selftest as selftest_model
from madvq.sim.board import simulated_board, sim_link

from linkwire import (END, ESC, ESC_END, ESC_ESC, ERROR, IDENTIFY, WRITE, ACTIVE, CLASSIFY,
                      SELFTEST, ReplySplitter, crc16, escape, frame)


CFG = CoreConfig(dims=4, templates=4, width=8, distances=True, templates_per_cycle=2)
# The link of tests/hdl/test_link.py: its verilated model is built once for both.
LINK = sim_link(CFG, max_vectors=4, timeout_bytes=16)
SEED = int(os.environ.get("MADVQ_FUZZ_SEED", "10"))

# Error codes (README, "Protocol").
CHECK, TRUNCATED, OVERSIZED, UNKNOWN, BAD_LENGTH, BAD_ARGUMENT, LINE, TIMEOUT = range(1, 9)

BREAK = "break"
IDLE = "idle"


# ---------------------------------------------------------------------------- reference

class Reference:
    """The board's receiver and command semantics, from the README: fed the line items the
    host sends (bytes, breaks, idle marks), it appends each frame's outcome to
    ``outcomes``: ``("reply", command, tag, payload)`` or ``("fail", code, command, tag)``."""

    def __init__(self, link):
        self.link = link
        cfg = link.core
        self.codebook = np.zeros((cfg.templates, cfg.dims), np.int64)
        self.active = cfg.templates
        self.escaped = False
        self.carried = False
        self.tokens = []
        self.outcomes = deque()
        self.frames = 0

    @property
    def between_frames(self):
        return not self.tokens and not self.escaped and not self.carried

    def feed(self, item):
        if item is IDLE:
            self._end(idle=True, damaged=self.carried or self.escaped)
            self.escaped = self.carried = False
            return
        byte, error = (0, True) if item is BREAK else (item, False)
        damaged = error or self.carried
        if byte == END and not error:
            self._end(idle=False, damaged=damaged or self.escaped)
            self.escaped = self.carried = False
        elif self.escaped:
            good = byte in (ESC_END, ESC_ESC)
            value = END if byte == ESC_END else ESC if byte == ESC_ESC else byte
            self.tokens.append((value, damaged or not good))
            self.escaped = self.carried = False
        elif byte == ESC:
            self.escaped, self.carried = True, damaged
        else:
            self.tokens.append((byte, damaged))
            self.carried = False

    def _end(self, *, idle, damaged):
        tokens, self.tokens = self.tokens, []
        if not tokens and not damaged:
            return                                     # an empty frame
        self.frames += 1
        link = self.link
        problem = None
        pos = remaining = low = 0
        command = tag = 0
        payload = []
        for value, bad in tokens:
            if bad and problem is None:
                problem = LINE

            def fail(code):
                nonlocal problem
                if problem is None and not bad:
                    problem = code
            if pos == 0:
                command, pos = value, 1
            elif pos == 1:
                tag, pos = value, 2
            elif pos == 2:
                low, pos = value, 3
            elif pos == 3:
                length = low | value << 8
                pos, remaining = 4, length + 2
                if length > link.max_payload:
                    fail(OVERSIZED)
            elif remaining == 0:
                fail(OVERSIZED)
            else:
                if remaining > 2 and problem is None and not bad:
                    payload.append(value)
                remaining -= 1
        if problem is not None:
            code = problem
        elif damaged:
            code = LINE
        elif idle:
            code = TIMEOUT
        elif pos != 4 or remaining != 0:
            code = TRUNCATED
        elif crc16(bytes(v for v, _ in tokens)) != 0:
            code = CHECK
        else:
            code = self._command(command, bytes(payload))
            if code is None:
                self.outcomes.append(("reply", command | 0x80, tag,
                                      self._carry_out(command, bytes(payload))))
                return
        self.outcomes.append(("fail", code, command, tag))

    def _command(self, command, payload):
        link, cfg = self.link, self.link.core
        n, vb = len(payload), link.vector_bytes
        lengths = {IDENTIFY: n == 0, WRITE: n == 2 + vb, ACTIVE: n == 2, SELFTEST: n == 8,
                   CLASSIFY: n != 0 and n % vb == 0 and n // vb <= link.max_vectors}
        if command not in lengths:
            return UNKNOWN
        if not lengths[command]:
            return BAD_LENGTH
        arg = int.from_bytes(payload[:2], "little")
        if command == WRITE and arg >= cfg.templates:
            return BAD_ARGUMENT
        if command == ACTIVE and not 1 <= arg <= cfg.templates:
            return BAD_ARGUMENT
        if command == SELFTEST and (payload[:4] == bytes(4) or payload[4:] == bytes(4)):
            return BAD_ARGUMENT
        return None

    def _values(self, data):
        cfg, nb = self.link.core, self.link.value_bytes
        raw = np.array([int.from_bytes(data[k:k + nb], "little") for k in
                        range(0, len(data), nb)], np.int64) & ((1 << cfg.width) - 1)
        if cfg.signed:
            raw = np.where(raw >= 1 << (cfg.width - 1), raw - (1 << cfg.width), raw)
        return raw

    def _carry_out(self, command, payload):
        link, cfg = self.link, self.link.core
        if command == IDENTIFY:
            return link.identify_payload()
        if command == WRITE:
            self.codebook[int.from_bytes(payload[:2], "little")] = self._values(payload[2:])
            return payload[:2]
        if command == ACTIVE:
            self.active = int.from_bytes(payload, "little")
            return payload
        if command == CLASSIFY:
            x = self._values(payload).reshape(-1, cfg.dims)
            r = golden.classify(cfg, self.codebook, x, self.active)
            out = bytearray()
            for k in range(len(x)):
                out += int(r.index[k]).to_bytes(link.index_bytes, "little")
                out += int(r.distance[k]).to_bytes(link.distance_bytes, "little")
                if cfg.distances:
                    for d in r.distances[k]:
                        out += int(d).to_bytes(link.distance_bytes, "little")
            return bytes(out)
        count = int.from_bytes(payload[:4], "little")
        seed = int.from_bytes(payload[4:], "little")
        sums = selftest_model.expected(cfg, self.codebook, self.active, seed, count)
        cycles = (count * cfg.cycles_per_vector + link.result_latency_cycles
                  - (cfg.cycles_per_vector - 1))
        return (count.to_bytes(4, "little") + cycles.to_bytes(8, "little")
                + sums[0].to_bytes(4, "little") + sums[1].to_bytes(4, "little"))


# ---------------------------------------------------------------------------- the host

@dataclass
class Stats:
    cases: int = 0
    frames: int = 0
    requests: int = 0
    failed: int = 0
    error_replies: int = 0
    bursts: int = 0
    burst_frames: int = 0
    breaks: int = 0
    timeouts: int = 0
    most_in_flight: int = 0
    kinds: dict = field(default_factory=dict)


class Host:
    """Sends line items to the board and to the reference, and checks every reply."""

    def __init__(self, transport, link):
        self.t = transport
        self.link = link
        self.ref = Reference(link)
        self.splitter = ReplySplitter()
        self.stats = Stats()
        self.in_flight = 0               # intact requests sent, replies not yet received
        self.selftest_pending = False
        self.line_free = 0.0             # board time when what was sent has left the host

    def send(self, items):
        run = bytearray()
        before = len(self.ref.outcomes)
        # A byte is 10 bit times on the line, a break 21 (see sim/board.py).
        bits = sum(21 if item is BREAK else 10 for item in items)
        self.line_free = max(self.line_free, self.t.now()) + bits / self.link.baud
        for item in items:
            self.ref.feed(item)
            if item is BREAK:
                if run:
                    self.t.write(bytes(run))
                    run.clear()
                self.t.send_break()
                self.stats.breaks += 1
            else:
                run.append(item)
        if run:
            self.t.write(bytes(run))
        for outcome in list(self.ref.outcomes)[before:]:
            if outcome[0] == "reply":
                self.in_flight += 1
                self.selftest_pending |= outcome[1] == SELFTEST | 0x80
        self.stats.most_in_flight = max(self.stats.most_in_flight, self.in_flight)

    def _check(self, reply):
        assert reply.intact, f"a damaged reply: {reply}"
        outcomes = self.ref.outcomes
        assert outcomes, f"a reply nothing asked for: {reply}"
        if reply.command == ERROR:
            code, command, count = reply.error
            assert count >= 1 and len(outcomes) >= count, (reply, list(outcomes)[:3])
            answered = [outcomes.popleft() for _ in range(count)]
            assert all(o[0] == "fail" for o in answered), (reply, answered)
            assert answered[0][1:] == (code, command, reply.tag), (reply, answered[0])
            self.stats.error_replies += 1
            self.stats.failed += count
        else:
            want = outcomes.popleft()
            assert want[0] == "reply", f"{reply} where a failed frame was due: {want}"
            assert (reply.command, reply.tag, reply.payload) == want[1:], (reply, want)
            self.in_flight -= 1
            self.stats.requests += 1
            if reply.command == SELFTEST | 0x80:
                self.selftest_pending = False

    def wait(self, until, limit=0.5):
        """Read and check replies until ``until()`` holds (at most ``limit`` board s)."""
        assert self.ref.between_frames          # no idle mark may end a frame meanwhile
        end = self.t.now() + limit
        while not until():
            assert self.t.now() < end, (f"replies missing: {len(self.ref.outcomes)} frames "
                                        f"unanswered, {self.in_flight} requests in flight")
            for reply in self.splitter.feed(self.t.read(end - self.t.now())):
                self._check(reply)

    def pause(self, seconds):
        """A quiet line for ``seconds`` after what was sent: an idle mark for the board, and
        for the reference."""
        end = max(self.t.now(), self.line_free) + seconds
        while self.t.now() < end:
            for reply in self.splitter.feed(self.t.read(end - self.t.now())):
                self._check(reply)
        self.ref.feed(IDLE)

    def room(self):
        """Wait until another request may be sent (the driver's window)."""
        self.wait(lambda: self.in_flight < self.link.window)

    def drain(self):
        self.wait(lambda: not self.ref.outcomes, limit=2.0)


# ---------------------------------------------------------------------------- cases

class Cases:
    """Random cases; each returns the line items it sends. Values come from ``rng``."""

    def __init__(self, rng, link):
        self.rng = rng
        self.link = link
        self.tag = 0

    def next_tag(self):
        self.tag = (self.tag + 1) & 0xFF
        return self.tag

    def bytes(self, n):
        return bytes(self.rng.integers(0, 256, n, dtype=np.uint8))

    def values(self, n):
        cfg = self.link.core
        return self.bytes(n * self.link.vector_bytes) if cfg.width == 8 else None

    # -- intact requests
    def request(self, command):
        link, cfg, rng = self.link, self.link.core, self.rng
        if command == IDENTIFY:
            payload = b""
        elif command == WRITE:
            payload = int(rng.integers(cfg.templates)).to_bytes(2, "little") + self.values(1)
        elif command == ACTIVE:
            payload = int(rng.integers(1, cfg.templates + 1)).to_bytes(2, "little")
        elif command == CLASSIFY:
            payload = self.values(int(rng.integers(1, link.max_vectors + 1)))
        else:
            payload = (int(rng.integers(1, 13)).to_bytes(4, "little")
                       + int(rng.integers(1, 1 << 32)).to_bytes(4, "little"))
        return frame(command, self.next_tag(), payload)

    # -- damage
    def damaged(self, kind):
        rng, link = self.rng, self.link
        good = self.request(int(rng.choice([IDENTIFY, WRITE, ACTIVE, CLASSIFY])))
        if kind == "garbage":
            return self.bytes(int(rng.integers(1, 40))) + bytes([END])
        if kind == "truncated":
            line = escape(good)
            return bytes([END]) + line[:int(rng.integers(1, len(line)))] + bytes([END])
        if kind == "crc":
            body = bytearray(good)
            body[-2 + int(rng.integers(2))] ^= 1 << int(rng.integers(8))
            return bytes([END]) + escape(body) + bytes([END])
        if kind == "length":
            n = len(good) - 6
            wrong = int(rng.choice([n + 1, max(0, n - 1), n + int(rng.integers(2, 9)),
                                    link.max_payload + int(rng.integers(1, 1000)), 0xFFFF]))
            return bytes([END]) + escape(frame(good[0], good[1], good[4:-2], length=wrong)) \
                + bytes([END])
        if kind == "unknown":
            command = int(rng.choice([0x00, 0x06, 0x42, 0x7F, 0x81, 0xFE]))
            return bytes([END]) + escape(frame(command, self.next_tag(), self.bytes(
                int(rng.integers(0, 9))))) + bytes([END])
        if kind == "escape":
            line = bytearray(escape(good))
            at = int(rng.integers(0, len(line) + 1))
            bad = int(rng.choice([0x00, 0x55, ESC, 0xDE, 0xFF]))
            return bytes([END]) + bytes(line[:at]) + bytes([ESC, bad]) + bytes(line[at:]) \
                + bytes([END])
        if kind == "argument":
            cfg = link.core
            choice = int(rng.integers(4))
            if choice == 0:
                payload, command = (int(rng.integers(cfg.templates, 0x10000)).to_bytes(
                    2, "little") + self.values(1)), WRITE
            elif choice == 1:
                payload, command = int(rng.choice([0, cfg.templates + 1, 0xFFFF])).to_bytes(
                    2, "little"), ACTIVE
            elif choice == 2:
                payload, command = bytes(4) + (5).to_bytes(4, "little"), SELFTEST
            else:
                payload, command = (5).to_bytes(4, "little") + bytes(4), SELFTEST
            return bytes([END]) + escape(frame(command, self.next_tag(), payload)) \
                + bytes([END])
        if kind == "bad_length":
            vb = link.vector_bytes
            command, payload = [
                (IDENTIFY, self.bytes(1)), (WRITE, self.bytes(2 + vb - 1)),
                (ACTIVE, self.bytes(3)), (SELFTEST, self.bytes(7)), (CLASSIFY, b""),
                (CLASSIFY, self.bytes(vb + 1))][int(rng.integers(6))]
            return bytes([END]) + escape(frame(command, self.next_tag(), payload)) \
                + bytes([END])
        if kind == "break":
            line = list(bytes([END]) + escape(good) + bytes([END]))
            line.insert(int(rng.integers(0, len(line) + 1)), BREAK)
            return line + [END]
        raise ValueError(kind)

    def burst(self):
        n = int(self.rng.integers(64, 201))
        filler = [0x55, 0x00, 0x01, 0x04, 0xFF][int(self.rng.integers(5))]
        return n, bytes([END, filler]) * n + bytes([END])


REQUESTS = [IDENTIFY, WRITE, ACTIVE, CLASSIFY, SELFTEST]
DAMAGE = ["garbage", "truncated", "crc", "length", "unknown", "escape", "argument",
          "bad_length", "break"]


def fuzz(transport, link, seed, cases):
    rng = np.random.default_rng(seed)
    host = Host(transport, link)
    gen = Cases(rng, link)
    stats = host.stats
    # A known codebook first, so that classify results mean something.
    for j in range(link.core.templates):
        host.room()
        host.send(bytes([END]) + escape(frame(WRITE, gen.next_tag(), j.to_bytes(2, "little")
                                              + gen.values(1))) + bytes([END]))
    for case in range(cases):
        # Room for a request first: a damaged case may hold an intact frame too (a break or
        # a bad escape next to a frame, not in it), never more than one.
        host.room()
        draw = rng.random()
        if draw < 0.45:
            command = int(rng.choice(REQUESTS, p=[0.1, 0.25, 0.15, 0.4, 0.1]))
            if command == SELFTEST:
                # One self-test at a time (the next is refused until the previous report
                # has been sent), and short, so that no request meets it running.
                host.wait(lambda: not host.selftest_pending)
            host.room()
            host.send(bytes([END]) + escape(gen.request(command)) + bytes([END]))
            kind = f"request {command}"
        elif draw < 0.9:
            kind = str(rng.choice(DAMAGE))
            host.send(gen.damaged(kind))
        elif draw < 0.95:
            n, items = gen.burst()
            host.send(items)
            stats.bursts += 1
            stats.burst_frames += n
            kind = "burst"
        else:
            # A frame cut off by an idle line: the timeout ends it.
            line = escape(gen.request(int(rng.choice([WRITE, CLASSIFY]))))
            host.send(bytes([END]) + line[:int(rng.integers(1, len(line)))])
            host.pause(1.5 * 10 * link.timeout_bytes / link.baud)
            stats.timeouts += 1
            kind = "timeout"
        stats.kinds[kind] = stats.kinds.get(kind, 0) + 1
        stats.cases += 1
        if case % 16 == 15:
            # A probe: classify with all distances shows the codebook and m.
            host.room()
            host.send(bytes([END]) + escape(gen.request(CLASSIFY)) + bytes([END]))
    host.drain()
    stats.frames = host.ref.frames
    assert host.in_flight == 0 and not host.ref.outcomes
    assert stats.requests + stats.failed == stats.frames
    return stats


def report(backend, seed, stats):
    print(f"\nlink fuzz ({backend}, seed {seed}): {stats.cases} cases, {stats.frames} frames "
          f"({stats.requests} intact requests, {stats.failed} failed, answered by "
          f"{stats.error_replies} error replies), {stats.bursts} bursts of junk frames "
          f"({stats.burst_frames} frames), {stats.breaks} breaks, {stats.timeouts} timeouts, "
          f"up to {stats.most_in_flight} requests in flight; 0 lost")


@pytest.mark.parametrize("backend, cases, ratio", [("verilator", 1200, 1), ("amaranth", 120, 1),
                                                   ("verilator", 600, 2)],
                         ids=["verilator", "amaranth", "verilator-2-clocks"])
def test_link_fuzz(backend, cases, ratio):
    # ratio 2: the core and the self-test at twice the link's clock, across the crossings.
    link = sim_link(CFG, max_vectors=4, timeout_bytes=16, core_clock_ratio=ratio)
    stats = fuzz(simulated_board(link, backend=backend), link, SEED, cases)
    report(backend, SEED, stats)
    assert stats.bursts and stats.breaks and stats.timeouts
    assert stats.most_in_flight == link.window


@pytest.mark.deep
def test_link_fuzz_deep():
    stats = fuzz(simulated_board(LINK, backend="verilator"), LINK, SEED + 1, 20_000)
    report("verilator", SEED + 1, stats)

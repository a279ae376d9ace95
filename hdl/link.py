"""The serial link of a madvq board: frames in, commands to the core, replies out.

See :mod:`madvq.hdl.protocol` for the frames. The link is a chain of small components joined
by streams; each rule of the protocol lives in one of them::

    rx -> UARTReceiver -> SLIPDecoder -> FrameChecker -> CommandStage -----> core
                                                            | verdicts        | results
                                                            v                 v
    tx <- UARTTransmitter <- FrameEncoder <- ReplyBuilder <- ReplyQueue
                                                 ^ self-test report

* :class:`~madvq.hdl.uart.UARTReceiver`: bytes, and an idle mark when the line has been
  quiet for the timeout. A byte waits for the decoder for up to a byte time; a loss is
  flagged on the next item, so it is reported where it happened.
* :class:`SLIPDecoder`: escaping and the END delimiter. An END always ends a frame, even
  a damaged one.
* :class:`FrameChecker`: a frame's integrity: its size against its length field, the
  largest payload, the CRC, damage on the line, the idle timeout. It passes the command,
  the tag and the payload bytes on, then the frame's end with its verdict.
* :class:`CommandStage`: a frame's meaning: the command, its length and arguments, and
  whether the core is free. It feeds classify vectors to the core as they complete, holds a
  template write, an active count or a self-test request until the frame's end and carries
  it out only if the frame is intact and valid; one verdict per intact request, one per run
  of failed frames.
* :class:`ReplyQueue`: the order of replies. A classify request's results wait in a staging
  queue until its verdict: kept behind its reply, or dropped.
* :class:`ReplyBuilder`: a reply frame's bytes: the header, and the payload from the
  descriptor, the results, the identify constants or the self-test report.
* :class:`FrameEncoder`: the frame's CRC, the escaping and the END delimiters.

Flow control: the receiver is never made to wait longer than a byte time, so no byte is
lost while the host keeps at most ``LinkConfig.window`` requests unanswered. Every stage
handles an item every two clock cycles or better (the line brings one every
``10 * divisor`` cycles, at least 40; a stage takes an item only into an empty output
register, so that no ready signal runs through two stages). The command stage waits only
for the core's rounds on a vector and, at a frame's end, for the reply queue to keep or
drop up to ``max_vectors`` results or for the core's last results before a self-test. It
never waits for a self-test run (requests that need the core meanwhile are refused,
``BUSY``) nor for the reply queue to have room: the queue holds ``window`` full replies, an
error reply ahead of each and two more, and failed frames share error replies (one at a
time while the queue is not empty), so damaged input never fills it.
"""

from amaranth.hdl import Module, Signal, Cat, Const, Array
from amaranth.lib import crc, data, enum, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import vector_layout, codebook_layout, result_layout
from .protocol import (LinkConfig, Command, ErrorCode, CRC, END, ESC, ESC_END, ESC_ESC,
                       ERROR_REPLY, REPLY_BIT, HEADER_BYTES, CHECK_BYTES, ERROR_REPLY_BYTES)
from .selftest import REPORT_BYTES, SelfTestSignature, start_layout
from .uart import UARTReceiver, UARTTransmitter, received_layout


__all__ = ["Token", "token_layout", "Field", "item_layout", "verdict_layout",
           "descriptor_layout", "frame_byte_layout", "Queue", "SLIPDecoder", "FrameChecker",
           "CommandStage", "ReplyQueue", "ReplyBuilder", "FrameEncoder", "Link"]


def _check_link(link):
    if not isinstance(link, LinkConfig):
        raise TypeError(f"link must be a LinkConfig, not {link!r}")


# ---------------------------------------------------------------------------- layouts

class Token(enum.Enum, shape=2):
    """What a decoded line item is."""
    DATA = 0       # a frame byte (unescaped)
    END = 1        # an END byte: the frame ends
    IDLE = 2       # the line went idle


def token_layout():
    """A decoded line item; ``damaged``: this byte, or something just before it, was
    damaged (a framing error, a bad escape, lost bytes)."""
    return data.StructLayout({"data": 8, "kind": Token, "damaged": 1})


class Field(enum.Enum, shape=2):
    """What a checked frame item carries."""
    COMMAND = 0    # the command byte
    TAG = 1        # the tag
    PAYLOAD = 2    # a payload byte
    END = 3        # the frame ended; ``data`` is its ErrorCode (NONE: intact)


def item_layout():
    return data.StructLayout({"field": Field, "data": 8})


def _arg_bits(link):
    # Wide enough for a template index, an active count, a vector count and an error count.
    return max(LinkConfig.MAX_ERROR_COUNT.bit_length(), link.core.active_width,
               link.max_vectors.bit_length())


def descriptor_layout(link):
    """One reply to build: ``code`` NONE and the request's ``command`` and ``tag``, with
    ``arg`` the template index, the active count or the number of results; or an error
    reply's ``code``, ``command`` and ``tag`` (of the first frame it answers) and ``arg``
    the number of frames it answers."""
    return data.StructLayout({"code": ErrorCode, "command": 8, "tag": 8,
                              "arg": _arg_bits(link)})


def verdict_layout(link):
    """A verdict, for the reply queue: with ``reply``, a reply to queue (the
    :func:`descriptor_layout` fields); and ``vectors``, the number of results to take from
    the staging queue: kept behind the reply if there is one, dropped otherwise."""
    return data.StructLayout({"reply": 1, "code": ErrorCode, "command": 8, "tag": 8,
                              "arg": _arg_bits(link),
                              "vectors": range(link.max_vectors + 1)})


def frame_byte_layout():
    """A byte of an outgoing frame; ``last`` marks the frame's last byte."""
    return data.StructLayout({"data": 8, "last": 1})


def _reply_item_bits(link):
    """Items of the reply queue: a descriptor, or a result behind a classify reply's."""
    return max(descriptor_layout(link).size, result_layout(link.core).size)


def _reply_queue_depth(link):
    # At most `window` replies with their results, an error reply ahead of each, one given
    # while the queue was empty and one that reached MAX_ERROR_COUNT; two entries more (the
    # registers behind the queue's memory), so that the memory is a power of two deep.
    need = link.result_queue_depth + 2 * link.window + 2
    return (1 << (need - 1).bit_length()) + 2


# ---------------------------------------------------------------------------- queues

class _SyncFIFO(fifo.SyncFIFO):
    # A FIFO never reads the entry it writes in the same cycle (nothing is read while it is
    # empty, nothing written while it is full), so what a memory returns on such a collision
    # does not matter here. Saying so lets Yosys merge the memory and the register after it
    # into an iCE40 block RAM as it is, instead of emulating a read-before-write port with
    # about two and a half flip-flops per bit.
    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.submodules["storage"].attrs["no_rw_check"] = 1
        return m


class Queue(wiring.Component):
    """A first-in first-out queue of ``depth`` items of ``width`` bits: an
    ``amaranth.lib.fifo.SyncFIFO`` of ``depth - 2`` items, the register its output is read
    into (so that a block RAM holds both) and one more register, from which the items leave:
    a block RAM's read is slow (about 6 ns on an ECP5), and the queue's users may put logic
    behind it. An item written to an empty queue is offered three cycles later; one item in
    and one out per cycle."""

    def __init__(self, width, depth):
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise ValueError(f"width must be a positive integer, not {width!r}")
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 3:
            raise ValueError(f"depth must be an integer >= 3, not {depth!r}")
        self._width = width
        self._depth = depth
        super().__init__({
            "w": In(stream.Signature(width)),
            "r": Out(stream.Signature(width)),
            "empty": Out(1),
        })

    @property
    def depth(self):
        return self._depth

    def elaborate(self, platform):
        m = Module()
        inner = m.submodules.fifo = _SyncFIFO(width=self._width, depth=self._depth - 2)
        wiring.connect(m, wiring.flipped(self.w), inner.w_stream)
        # The registers hold data only: no reset (a block RAM's output has none).
        read = Signal(self._width, reset_less=True)
        read_valid = Signal()
        item = Signal(self._width, reset_less=True)
        out = self.r
        move = read_valid & (~out.valid | out.ready)
        m.d.comb += [out.payload.eq(item), inner.r_en.eq(~read_valid | move)]
        with m.If(out.valid & out.ready):
            m.d.sync += out.valid.eq(0)
        with m.If(move):
            m.d.sync += [item.eq(read), out.valid.eq(1), read_valid.eq(0)]
        with m.If(inner.r_en & inner.r_rdy):
            m.d.sync += [read.eq(inner.r_data), read_valid.eq(1)]
        m.d.comb += self.empty.eq(~inner.r_rdy & ~read_valid & ~out.valid)
        return m


# ---------------------------------------------------------------------------- receive side

class SLIPDecoder(wiring.Component):
    """Undoes the SLIP escaping: received line items in, :func:`token_layout` tokens out.

    An END byte gives an END token and an idle mark an IDLE token, damaged if the item was or
    if an escape was left open; an escaped byte gives its data byte, damaged unless it was
    one of the two escape codes; an ESC gives nothing; any other byte gives itself. Damage on
    an item that gives no token (an ESC) goes with the next token. An END byte ends a frame
    even when damaged, so that a loss never joins two frames. Latency one cycle; one item
    every two cycles.
    """

    line: In(stream.Signature(received_layout()))
    tokens: Out(stream.Signature(token_layout()))

    def elaborate(self, platform):
        m = Module()
        line, out = self.line, self.tokens
        item = line.p
        escaped = Signal()
        carried = Signal()
        damaged = item.error | carried

        # An item is taken only into an empty output register: no ready path runs through
        # the stage (two cycles per item; the line brings one every forty or more).
        m.d.comb += line.ready.eq(~out.valid)
        with m.If(out.valid & out.ready):
            m.d.sync += out.valid.eq(0)

        with m.If(line.valid & line.ready):
            m.d.sync += [escaped.eq(0), carried.eq(0), out.p.data.eq(item.data),
                         out.p.damaged.eq(damaged)]
            with m.If(item.idle):
                m.d.sync += [out.valid.eq(1), out.p.kind.eq(Token.IDLE),
                             out.p.damaged.eq(damaged | escaped)]
            with m.Elif(item.data == END):
                m.d.sync += [out.valid.eq(1), out.p.kind.eq(Token.END),
                             out.p.damaged.eq(damaged | escaped)]
            with m.Elif(escaped):
                m.d.sync += [out.valid.eq(1), out.p.kind.eq(Token.DATA)]
                with m.If(item.data == ESC_END):
                    m.d.sync += out.p.data.eq(END)
                with m.Elif(item.data == ESC_ESC):
                    m.d.sync += out.p.data.eq(ESC)
                with m.Else():
                    m.d.sync += out.p.damaged.eq(1)
            with m.Elif(item.data == ESC):
                m.d.sync += [escaped.eq(1), carried.eq(damaged)]
            with m.Else():
                m.d.sync += [out.valid.eq(1), out.p.kind.eq(Token.DATA)]
        return m


class FrameChecker(wiring.Component):
    """A frame's integrity: tokens in, checked frame items (:func:`item_layout`) out.

    A frame is what lies between two END tokens (or an END and an IDLE token); an empty one
    is ignored, unless damaged. Out of each frame come the command and the tag (as they
    arrive), its payload bytes while nothing is wrong with it, and an END item with the
    first problem found, in the order found:

    * ``LINE``: a damaged token in the frame, or at its end;
    * ``OVERSIZED``: a length field above ``max_payload``, or a byte after the check;
    * at the end, ``TIMEOUT`` if the line went idle, else ``TRUNCATED`` if the frame is
      shorter than its header, length and check, else ``CHECK`` if the CRC does not match.

    No payload byte beyond the length field or ``max_payload`` ever leaves. No counter is
    compared with another: the header is counted up, the payload and check down. Latency
    one cycle; one token every two cycles.
    """

    def __init__(self, link):
        _check_link(link)
        self._link = link
        super().__init__({
            "tokens": In(stream.Signature(token_layout())),
            "items": Out(stream.Signature(item_layout())),
        })

    def elaborate(self, platform):
        link = self._link
        m = Module()
        tok, out = self.tokens, self.items
        check = m.submodules.check = crc.Processor(CRC(8))

        opened = Signal()                                  # the frame has begun
        pos = Signal(range(HEADER_BYTES + 1))              # header bytes so far
        # Payload and check bytes to come; before that, the length field's first byte.
        remaining = Signal(range(max(link.max_payload + CHECK_BYTES + 1, 256)))
        problem = Signal(ErrorCode)

        take = tok.valid & tok.ready
        is_data = tok.p.kind == Token.DATA
        m.d.comb += [
            # Only into an empty output register: no ready path runs through the stage.
            tok.ready.eq(~out.valid),
            check.data.eq(tok.p.data),
            check.valid.eq(take & is_data),
            # Between frames the CRC stays at its initial value.
            check.start.eq(~opened),
        ]
        with m.If(out.valid & out.ready):
            m.d.sync += out.valid.eq(0)

        def fail(code):
            # The first problem stays; a damaged byte is the first problem it shows.
            with m.If((problem == ErrorCode.NONE) & ~tok.p.damaged):
                m.d.sync += problem.eq(code)

        def emit(field, value):
            m.d.sync += [out.valid.eq(1), out.p.field.eq(field), out.p.data.eq(value)]

        with m.If(take & is_data):
            m.d.sync += opened.eq(1)
            with m.If(tok.p.damaged & (problem == ErrorCode.NONE)):
                m.d.sync += problem.eq(ErrorCode.LINE)
            with m.Switch(pos):
                with m.Case(0):
                    emit(Field.COMMAND, tok.p.data)
                    m.d.sync += pos.eq(1)
                with m.Case(1):
                    emit(Field.TAG, tok.p.data)
                    m.d.sync += pos.eq(2)
                with m.Case(2):
                    m.d.sync += [remaining.eq(tok.p.data), pos.eq(3)]
                with m.Case(3):
                    length = Cat(remaining[:8], tok.p.data)
                    m.d.sync += [pos.eq(4), remaining.eq(length + CHECK_BYTES)]
                    with m.If(length > link.max_payload):
                        fail(ErrorCode.OVERSIZED)
                with m.Default():
                    with m.If(remaining == 0):
                        fail(ErrorCode.OVERSIZED)
                    with m.Else():
                        m.d.sync += remaining.eq(remaining - 1)
                    with m.If((remaining > CHECK_BYTES) & (problem == ErrorCode.NONE)
                              & ~tok.p.damaged):
                        emit(Field.PAYLOAD, tok.p.data)

        with m.If(take & ~is_data):
            with m.If(opened | tok.p.damaged):
                code = Signal(ErrorCode)
                with m.If(problem != ErrorCode.NONE):
                    m.d.comb += code.eq(problem)
                with m.Elif(tok.p.damaged):
                    m.d.comb += code.eq(ErrorCode.LINE)
                with m.Elif(tok.p.kind == Token.IDLE):
                    m.d.comb += code.eq(ErrorCode.TIMEOUT)
                with m.Elif((pos != HEADER_BYTES) | (remaining != 0)):
                    m.d.comb += code.eq(ErrorCode.TRUNCATED)
                with m.Elif(~check.match_detected):
                    m.d.comb += code.eq(ErrorCode.CHECK)
                emit(Field.END, code)
            m.d.sync += [opened.eq(0), pos.eq(0), remaining.eq(0), problem.eq(ErrorCode.NONE)]
        return m


class CommandStage(wiring.Component):
    """A frame's meaning: checked frame items in; the core's streams, the self-test's
    ``start`` and the verdicts out.

    Payload bytes go into one shift register. A classify request's vectors go to the core
    as each completes (at most ``max_vectors``); a template write, an active count or a
    self-test request is carried out at the frame's end, and only if the frame is intact,
    its command known (``UNKNOWN_COMMAND``), its length what the command takes
    (``BAD_LENGTH``), its arguments in range (``BAD_ARGUMENT``) and the core free
    (``BUSY``: a vector, template or active count while a self-test runs, or a self-test
    before the previous one's report has been taken), checked in that order. A self-test
    starts once ``core_idle`` says that every earlier vector has left the core.

    Verdicts: an intact request's reply (its command and tag; ``arg`` the template index,
    the active count or the number of results). Consecutive failed frames share one error
    reply: the first one's code, command and tag (as received, 0 when missing), ``arg``
    counting them (up to ``MAX_ERROR_COUNT``). It is handed on as soon as ``queue_empty``
    says the reply queue has nothing else to send, or ahead of the next reply, so that
    damaged input costs an error reply per reply the line can carry, at most. A failed
    frame whose vectors reached the core hands on a verdict without a reply, to drop their
    results.

    Takes an item per cycle, except while a vector waits for the core (the rounds of the
    vector before it) and at a frame's end (four to six cycles, more while the reply queue
    keeps or drops results, up to ``max_vectors``, or before a self-test while the core's
    last results come back). It never waits for a self-test to finish.
    """

    def __init__(self, link):
        _check_link(link)
        self._link = link
        cfg = link.core
        super().__init__({
            "items": In(stream.Signature(item_layout())),
            "vector": Out(stream.Signature(vector_layout(cfg))),
            "codebook": Out(stream.Signature(codebook_layout(cfg))),
            "active": Out(stream.Signature(range(cfg.templates + 1))),
            "selftest": Out(stream.Signature(start_layout())),
            "selftest_busy": In(1),
            "core_idle": In(1),
            "verdicts": Out(stream.Signature(verdict_layout(link))),
            "queue_empty": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        f = _Frame(self._link, self.verdicts)
        verdict = self.verdicts
        m.d.comb += [
            verdict.payload.code.eq(f.out.code),
            verdict.payload.command.eq(f.out.command),
            verdict.payload.tag.eq(f.out.tag),
            verdict.payload.arg.eq(f.out.arg),
            self.vector.payload.eq(f.values),
            self.codebook.payload.index.eq(f.arg),
            self.codebook.payload.template.eq(f.values),
            self.active.payload.eq(f.arg),
            self.selftest.payload.count.eq(f.run_count),
            self.selftest.payload.seed.eq(f.run_seed),
        ]
        with m.If(verdict.valid & verdict.ready):
            m.d.sync += verdict.valid.eq(0)
        judge = self._meaning(m, f)

        with m.FSM(name="command"):
            with m.State("RECEIVE"):
                self._flush_when_idle(m, f)
                self._receive(m, f)
            with m.State("VECTOR"):
                self._flush_when_idle(m, f)
                with m.If(self.vector.ready):
                    m.d.sync += [self.vector.valid.eq(0), f.sent.eq(f.sent + 1)]
                    m.next = "RECEIVE"
            with m.State("JUDGE"):
                self._judge(m, f, judge)
                m.next = "FINISH"
            with m.State("FINISH"):
                self._finish(m, f)
            for state, port in [("WRITE", self.codebook), ("ACTIVE", self.active)]:
                with m.State(state):
                    with m.If(port.ready):
                        m.d.sync += port.valid.eq(0)
                        m.next = "REPLY"
            with m.State("SELFTEST_WAIT"):
                # The self-test takes the core over: every vector given to it must have
                # its result back first.
                with m.If(self.core_idle):
                    self._offer(m, self.selftest)
                    m.next = "SELFTEST"
            with m.State("SELFTEST"):
                with m.If(self.selftest.ready):
                    m.d.sync += self.selftest.valid.eq(0)
                    m.next = "REPLY"
            with m.State("REPLY"):
                with m.If(f.free):
                    m.d.sync += [f.out.code.eq(ErrorCode.NONE), f.out.command.eq(f.command),
                                 f.out.tag.eq(f.tag), f.out.arg.eq(f.arg)]
                    with m.If(f.classify):
                        m.d.sync += f.out.arg.eq(f.sent)
                    self._hand_on(m, f, 1, f.sent)
                    m.next = "NEXT"
            with m.State("NEXT"):
                m.d.sync += f.clear()
                m.next = "RECEIVE"
        return m

    def _hand_on(self, m, f, reply, vectors):
        # Load the verdict register (only when `f.free`).
        m.d.sync += [self.verdicts.valid.eq(1), self.verdicts.payload.reply.eq(reply),
                     self.verdicts.payload.vectors.eq(vectors)]

    def _flush_run(self, m, f):
        # Hand on the run of failed frames' error reply.
        self._hand_on(m, f, 1, 0)
        m.d.sync += f.run.eq(0)

    def _flush_when_idle(self, m, f):
        with m.If(f.run & f.free & self.queue_empty):
            self._flush_run(m, f)

    @staticmethod
    def _offer(m, port):
        # The valid signals come straight from registers (the core's ready depends on
        # them combinationally).
        m.d.sync += port.valid.eq(1)

    def _meaning(self, m, f):
        """Whether the frame's command is known, its length right and its argument in range
        (combinational, for JUDGE): ``(known, length_ok, argument_ok)``."""
        link = self._link
        vb = link.vector_bytes
        length_ok = Signal()
        known = Signal()
        argument_ok = Signal()
        with m.Switch(f.command):
            for c, good_length, good_argument in [
                    (Command.IDENTIFY, f.count == 0, 1),
                    (Command.WRITE_TEMPLATE, f.count == 2 + vb, f.arg < link.core.templates),
                    (Command.SET_ACTIVE, f.count == 2,
                     (f.arg != 0) & (f.arg <= link.core.templates)),
                    (Command.CLASSIFY, (f.count != 0) & (f.sub == 0) & ~f.too_many, 1),
                    (Command.SELFTEST, f.count == 8, ~f.zero_count & ~f.zero_seed)]:
                with m.Case(c):
                    m.d.comb += [known.eq(1), length_ok.eq(good_length),
                                 argument_ok.eq(good_argument)]
        return known, length_ok, argument_ok

    def _receive(self, m, f):
        """RECEIVE: take an item; a classify request's vector goes to the core as it
        completes (state VECTOR), the frame's end to JUDGE."""
        link = self._link
        vb = link.vector_bytes
        item = self.items.p
        m.d.comb += self.items.ready.eq(1)
        with m.If(self.items.valid):
            with m.Switch(item.field):
                with m.Case(Field.COMMAND):
                    m.d.sync += [f.command.eq(item.data),
                                 f.classify.eq(item.data == Command.CLASSIFY)]
                with m.Case(Field.TAG):
                    m.d.sync += f.tag.eq(item.data)
                with m.Case(Field.PAYLOAD):
                    m.d.sync += [f.raw.eq(Cat(f.raw[8:], item.data)), f.count.eq(f.count + 1)]
                    with m.If(f.count == 0):
                        m.d.sync += f.arg[:8].eq(item.data)
                    with m.If(f.count == 1):
                        m.d.sync += f.arg[8:].eq(item.data)
                    with m.If(item.data != 0):
                        with m.If(f.count < 4):
                            m.d.sync += f.zero_count.eq(0)
                        with m.Elif(f.count < 8):
                            m.d.sync += f.zero_seed.eq(0)
                    with m.If(f.classify):
                        with m.If(f.sub == vb - 1):
                            m.d.sync += f.sub.eq(0)
                            with m.If(f.sent == link.max_vectors):
                                m.d.sync += f.too_many.eq(1)
                            with m.Elif(self.selftest_busy | f.refused):
                                m.d.sync += f.refused.eq(1)
                            with m.Else():
                                self._offer(m, self.vector)
                                m.next = "VECTOR"
                        with m.Else():
                            m.d.sync += f.sub.eq(f.sub + 1)
                with m.Case(Field.END):
                    m.d.sync += f.code.eq(item.data)
                    m.next = "JUDGE"

    def _judge(self, m, f, meaning):
        """JUDGE: integrity first (the checker's code), then the meaning."""
        known, length_ok, argument_ok = meaning
        needs_core = (f.command == Command.WRITE_TEMPLATE) | (f.command == Command.SET_ACTIVE)
        with m.If(f.code == ErrorCode.NONE):
            with m.If(~known):
                m.d.sync += f.code.eq(ErrorCode.UNKNOWN_COMMAND)
            with m.Elif(~length_ok):
                m.d.sync += f.code.eq(ErrorCode.BAD_LENGTH)
            with m.Elif(~argument_ok):
                m.d.sync += f.code.eq(ErrorCode.BAD_ARGUMENT)
            with m.Elif(f.refused | (self.selftest_busy & needs_core)
                        | ((f.command == Command.SELFTEST) & ~self.selftest.ready)):
                # The self-test holds the core: refuse rather than wait, so that the line
                # is always read.
                m.d.sync += f.code.eq(ErrorCode.BUSY)

    def _finish(self, m, f):
        """FINISH: a failed frame joins (or starts) the run of failed frames; an intact one
        is carried out."""
        out = f.out
        with m.If(~f.free):
            pass
        with m.Elif(f.code != ErrorCode.NONE):
            with m.If(f.run & (out.arg == LinkConfig.MAX_ERROR_COUNT)):
                self._flush_run(m, f)
            with m.Else():
                with m.If(f.run):
                    m.d.sync += out.arg.eq(out.arg + 1)
                with m.Else():
                    m.d.sync += [f.run.eq(1), out.code.eq(f.code), out.command.eq(f.command),
                                 out.tag.eq(f.tag), out.arg.eq(1)]
                with m.If(f.sent != 0):
                    self._hand_on(m, f, 0, f.sent)
                m.next = "NEXT"
        with m.Elif(f.run):
            self._flush_run(m, f)                # the run goes ahead of this frame's reply
        with m.Elif(f.command == Command.WRITE_TEMPLATE):
            self._offer(m, self.codebook)
            m.next = "WRITE"
        with m.Elif(f.command == Command.SET_ACTIVE):
            self._offer(m, self.active)
            m.next = "ACTIVE"
        with m.Elif(f.command == Command.SELFTEST):
            m.next = "SELFTEST_WAIT"
        with m.Else():
            m.next = "REPLY"


class _Frame:
    """The command stage's registers: the frame being received and the verdict register."""

    def __init__(self, link, verdicts):
        cfg = link.core
        vb = link.vector_bytes
        # The payload's bytes, shifted in at the top: a vector or template is its top
        # `vb` bytes, a self-test's count and seed its top 8.
        raw_bits = max(8 * vb, 64)
        self.raw = Signal(raw_bits, reset_less=True)
        template = self.raw[raw_bits - 8 * vb:]
        self.values = Cat(*[template[8 * link.value_bytes * i:][:cfg.width]
                            for i in range(cfg.dims)])
        self.run_count = self.raw[raw_bits - 64:raw_bits - 32]
        self.run_seed = self.raw[raw_bits - 32:]

        # The frame being received.
        self.command = Signal(8)
        self.tag = Signal(8)
        self.classify = Signal()                            # command is CLASSIFY
        self.count = Signal(range(link.max_payload + 1))    # payload bytes so far
        self.arg = Signal(16)                               # the first two payload bytes
        self.sub = Signal(range(vb))                        # bytes of the vector so far
        self.sent = Signal(range(link.max_vectors + 1))     # vectors given to the core
        self.too_many = Signal()
        self.refused = Signal()                  # a vector came while the core was busy
        # A self-test's count (payload bytes 0-3) and seed (4-7) are zero, so far.
        self.zero_count = Signal(init=1)
        self.zero_seed = Signal(init=1)
        self.code = Signal(ErrorCode)

        # The verdict register; while `run` is set, it counts a run of failed frames.
        self.out = Signal(descriptor_layout(link))
        self.run = Signal()
        self.free = ~verdicts.valid              # the verdict register may change

    def clear(self):
        """Statements that make ready for the next frame."""
        return [self.command.eq(0), self.tag.eq(0), self.classify.eq(0), self.count.eq(0),
                self.arg.eq(0), self.sub.eq(0), self.sent.eq(0), self.too_many.eq(0),
                self.refused.eq(0), self.zero_count.eq(1), self.zero_seed.eq(1),
                self.code.eq(ErrorCode.NONE)]


# ---------------------------------------------------------------------------- replies

class ReplyQueue(wiring.Component):
    """The replies in order: verdicts and the core's results in, reply queue items out.

    Results wait in a staging queue (``max_vectors`` deep) until a verdict takes them: kept
    behind its reply, or dropped. ``empty``: nothing is queued or being queued. Takes a
    verdict in a cycle, plus one per result it keeps or drops.
    """

    def __init__(self, link):
        _check_link(link)
        self._link = link
        super().__init__({
            "verdicts": In(stream.Signature(verdict_layout(link))),
            "results": In(stream.Signature(result_layout(link.core))),
            "replies": Out(stream.Signature(_reply_item_bits(link))),
            "empty": Out(1),
        })

    def elaborate(self, platform):
        link = self._link
        m = Module()
        staged = m.submodules.staged = Queue(result_layout(link.core).size,
                                             link.max_vectors + 2)
        queue = m.submodules.queue = Queue(_reply_item_bits(link), _reply_queue_depth(link))
        wiring.connect(m, wiring.flipped(self.results), staged.w)
        wiring.connect(m, queue.r, wiring.flipped(self.replies))

        verdict = self.verdicts
        left = Signal(range(link.max_vectors + 1))     # results to keep or drop

        def take_verdict():
            m.d.comb += verdict.ready.eq(1)
            m.d.sync += left.eq(verdict.p.vectors)
            with m.If(verdict.p.vectors != 0):
                with m.If(verdict.p.reply):
                    m.next = "KEEP"
                with m.Else():
                    m.next = "DROP"

        with m.FSM(name="replies"):
            with m.State("VERDICT"):
                m.d.comb += self.empty.eq(~verdict.valid & queue.empty)
                with m.If(verdict.valid & verdict.p.reply):
                    m.d.comb += [queue.w.payload.eq(Cat(verdict.p.code, verdict.p.command,
                                                        verdict.p.tag, verdict.p.arg)),
                                 queue.w.valid.eq(1)]
                    with m.If(queue.w.ready):
                        take_verdict()
                with m.Elif(verdict.valid):
                    take_verdict()

            with m.State("KEEP"):
                m.d.comb += [queue.w.payload.eq(staged.r.payload),
                             queue.w.valid.eq(staged.r.valid),
                             staged.r.ready.eq(queue.w.ready)]
                with m.If(staged.r.valid & queue.w.ready):
                    m.d.sync += left.eq(left - 1)
                    with m.If(left == 1):
                        m.next = "VERDICT"

            with m.State("DROP"):
                m.d.comb += staged.r.ready.eq(1)
                with m.If(staged.r.valid):
                    m.d.sync += left.eq(left - 1)
                    with m.If(left == 1):
                        m.next = "VERDICT"
        return m


class _Reply(enum.Enum, shape=3):
    ERROR = 0
    ACK = 1          # write template, set active: the argument echoed
    CLASSIFY = 2
    IDENTIFY = 3
    SELFTEST = 4


def _times(value, constant):
    """``value * constant`` as shifts and adds (a multiplier block would be slow here)."""
    terms = [value << k for k in range(constant.bit_length()) if constant >> k & 1]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _bytes_of(value, n):
    """The ``n`` bytes of ``value``, zero-extended."""
    value = Cat(value, Const(0, max(0, 8 * n - len(value))))
    return [value[8 * k:8 * k + 8] for k in range(n)]


class ReplyBuilder(wiring.Component):
    """A reply frame's bytes (without its check): reply queue items and the self-test report
    in, frame bytes out, the last one marked.

    Header (reply command, tag, length), then the payload: an error reply's code, command
    and count; a write's or active count's argument; the identify constants; the self-test
    report; or ``arg`` results, each in ``result_bytes`` bytes (index, distance, distances,
    each zero-extended to whole bytes), read from the queue's output in place. One byte
    every two cycles; a few cycles between replies.
    """

    def __init__(self, link):
        _check_link(link)
        self._link = link
        super().__init__({
            "replies": In(stream.Signature(_reply_item_bits(link))),
            "report": In(stream.Signature(8)),
            "frames": Out(stream.Signature(frame_byte_layout())),
        })

    def elaborate(self, platform):
        link = self._link
        m = Module()
        rb = link.result_bytes
        # The descriptor is read where it is, at the queue's output, until the reply no
        # longer needs it.
        desc = data.View(descriptor_layout(link),
                         self.replies.p[:descriptor_layout(link).size])
        kind = Signal(_Reply)
        identify = list(link.identify_payload())
        out = _ByteWriter(m, self.frames, max(len(identify), REPORT_BYTES))
        # The identify constants are read from a memory (a block RAM, not logic), a cycle
        # ahead.
        constants = m.submodules.identify = memory.Memory(
            shape=8, depth=len(identify), init=identify)
        constant = constants.read_port()
        m.d.comb += constant.addr.eq(out.next_position)
        results = Signal(range(link.max_vectors + 1))  # results still to send
        part = Signal(range(rb))                       # byte of the result being sent
        out.clear_when_taken()

        def done():
            # The reply is out: the descriptor can go.
            m.d.comb += self.replies.ready.eq(1)
            m.next = "LOAD"

        def load():
            m.next = "LOAD"

        def to_payload():
            with m.Switch(kind):
                for k in _Reply:
                    with m.Case(k):
                        m.next = k.name
                        if k in (_Reply.CLASSIFY, _Reply.IDENTIFY, _Reply.SELFTEST):
                            # Not needed any more; results follow it.
                            m.d.comb += self.replies.ready.eq(1)

        length, reply_command = self._header(m, desc, kind, len(identify))
        result_bytes = self._result_bytes()

        with m.FSM(name="builder"):
            with m.State("LOAD"):
                with m.If(self.replies.valid):
                    m.next = "DECODE"
            with m.State("DECODE"):
                self._decode(m, desc, kind)
                m.d.sync += results.eq(desc.arg)
                m.next = "HEADER"
            with m.State("HEADER"):
                out.send([reply_command, desc.tag, length[:8], length[8:]], ends_frame=False,
                         then=to_payload)
            with m.State("ERROR"):
                out.send([Cat(desc.code, Const(0, 4)), desc.command] + _bytes_of(desc.arg, 2),
                         ends_frame=True, then=done)
            with m.State("ACK"):
                out.send(_bytes_of(desc.arg, 2), ends_frame=True, then=done)
            with m.State("IDENTIFY"):
                with m.If(out.can):
                    out.emit(constant.data, out.position == len(identify) - 1)
                    out.advance(len(identify), then=load)
            with m.State("SELFTEST"):
                m.d.comb += self.report.ready.eq(out.can)
                with m.If(self.report.valid & out.can):
                    out.emit(self.report.payload, out.position == REPORT_BYTES - 1)
                    out.advance(REPORT_BYTES, then=load)
            with m.State("CLASSIFY"):
                # The result at the queue's output is sent in place, then taken.
                with m.If(out.can & self.replies.valid):
                    last_part = part == rb - 1
                    out.emit(Array(result_bytes)[part], last_part & (results == 1))
                    m.d.sync += part.eq(part + 1)
                    with m.If(last_part):
                        m.d.comb += self.replies.ready.eq(1)
                        m.d.sync += [part.eq(0), results.eq(results - 1)]
                        with m.If(results == 1):
                            m.next = "LOAD"
        return m

    def _header(self, m, desc, kind, identify_bytes):
        """The reply's length and command (combinational): ``(length, reply_command)``."""
        length = Signal(16)
        with m.Switch(kind):
            with m.Case(_Reply.ERROR):
                m.d.comb += length.eq(ERROR_REPLY_BYTES)
            with m.Case(_Reply.ACK):
                m.d.comb += length.eq(2)
            with m.Case(_Reply.CLASSIFY):
                m.d.comb += length.eq(_times(desc.arg, self._link.result_bytes))
            with m.Case(_Reply.IDENTIFY):
                m.d.comb += length.eq(identify_bytes)
            with m.Case(_Reply.SELFTEST):
                m.d.comb += length.eq(REPORT_BYTES)
        reply_command = Signal(8)
        with m.If(kind == _Reply.ERROR):
            m.d.comb += reply_command.eq(ERROR_REPLY)
        with m.Else():
            m.d.comb += reply_command.eq(desc.command | REPLY_BIT)
        return length, reply_command

    def _result_bytes(self):
        """The bytes of the result at the queue's output: index and distance (the K nearest,
        nearest first), then all distances; each zero-extended to whole bytes."""
        link = self._link
        cfg = link.core
        result = data.View(result_layout(cfg), self.replies.p[:result_layout(cfg).size])
        if cfg.top_k == 1:
            nearest = [(result.index, result.distance)]
        else:
            nearest = [(result.index[s], result.distance[s]) for s in range(cfg.top_k)]
        result_bytes = [b for index, distance in nearest
                        for b in (_bytes_of(index, link.index_bytes)
                                  + _bytes_of(distance, link.distance_bytes))]
        if cfg.distances:
            for j in range(cfg.templates):
                result_bytes += _bytes_of(result.distances[j], link.distance_bytes)
        return result_bytes

    @staticmethod
    def _decode(m, desc, kind):
        """DECODE: the kind of reply the descriptor asks for."""
        with m.If(desc.code != ErrorCode.NONE):
            m.d.sync += kind.eq(_Reply.ERROR)
        with m.Else():
            with m.Switch(desc.command):
                with m.Case(Command.CLASSIFY):
                    m.d.sync += kind.eq(_Reply.CLASSIFY)
                with m.Case(Command.IDENTIFY):
                    m.d.sync += kind.eq(_Reply.IDENTIFY)
                with m.Case(Command.SELFTEST):
                    m.d.sync += kind.eq(_Reply.SELFTEST)
                with m.Default():
                    m.d.sync += kind.eq(_Reply.ACK)


class _ByteWriter:
    """The reply builder's output register and its byte position within a part of the
    reply. A byte is made only into an empty output register: no ready path runs through
    the builder (two cycles a byte; the line takes one every forty or more)."""

    def __init__(self, m, frames, longest):
        self._m = m
        self._frames = frames
        self.position = Signal(range(longest))
        # The position of the next cycle (memories are read a cycle ahead).
        self.next_position = Signal.like(self.position)
        m.d.comb += self.next_position.eq(self.position)
        m.d.sync += self.position.eq(self.next_position)
        self.can = ~frames.valid

    def clear_when_taken(self):
        with self._m.If(self._frames.valid & self._frames.ready):
            self._m.d.sync += self._frames.valid.eq(0)

    def emit(self, value, last):
        self._m.d.sync += [self._frames.valid.eq(1), self._frames.p.data.eq(value),
                           self._frames.p.last.eq(last)]

    def advance(self, n, *, then):
        """On to the next of ``n`` bytes; after the last, back to 0 and ``then()``."""
        m = self._m
        m.d.comb += self.next_position.eq(self.position + 1)
        with m.If(self.position == n - 1):
            m.d.comb += self.next_position.eq(0)
            then()

    def send(self, values, *, ends_frame, then):
        """Emit ``values`` (byte-wide), one as the register is free, then call ``then``."""
        m = self._m
        with m.If(self.can):
            with m.Switch(self.position):
                for k, value in enumerate(values):
                    with m.Case(k):
                        self.emit(value, ends_frame and k == len(values) - 1)
            self.advance(len(values), then=then)


class FrameEncoder(wiring.Component):
    """Frames to line bytes: END, the frame's bytes and then its CRC
    (:data:`~madvq.hdl.protocol.CRC` over all of them, two bytes, most significant first),
    each END and ESC among them escaped as two bytes, END. One line byte every two
    cycles."""

    frames: In(stream.Signature(frame_byte_layout()))
    line: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        src, out = self.frames, self.line
        check = m.submodules.check = crc.Processor(CRC(8))
        # A byte goes only into an empty output register, so that the transmitter's ready
        # runs no further (two cycles a byte; the line takes one every forty or more).
        can = ~out.valid
        with m.If(out.valid & out.ready):
            m.d.sync += out.valid.eq(0)

        def emit(value):
            m.d.sync += [out.valid.eq(1), out.p.eq(value)]

        # The byte to send: the frame's, or one of its CRC's.
        part = Signal(range(3))                # 0: the frame's bytes; 1, 2: the CRC's
        byte = Signal(8)
        ready = Signal()                       # `byte` is there to send
        with m.Switch(part):
            with m.Case(0):
                m.d.comb += [byte.eq(src.p.data), ready.eq(src.valid)]
            with m.Case(1):
                m.d.comb += [byte.eq(check.crc[8:]), ready.eq(1)]
            with m.Default():
                m.d.comb += [byte.eq(check.crc[:8]), ready.eq(1)]
        m.d.comb += check.data.eq(src.p.data)

        def sent():
            # `byte` is out: take the next.
            with m.Switch(part):
                with m.Case(0):
                    m.d.comb += [src.ready.eq(1), check.valid.eq(1)]
                    with m.If(src.p.last):
                        m.d.sync += part.eq(1)
                with m.Case(1):
                    m.d.sync += part.eq(2)
                with m.Default():
                    m.d.sync += part.eq(0)
                    m.next = "CLOSE"

        special = (byte == END) | (byte == ESC)
        with m.FSM(name="encoder"):
            with m.State("OPEN"):
                m.d.comb += check.start.eq(1)
                with m.If(ready & can):
                    emit(END)
                    m.next = "BODY"
            with m.State("BODY"):
                with m.If(ready & can):
                    with m.If(special):
                        emit(ESC)
                        m.next = "ESCAPED"
                    with m.Else():
                        emit(byte)
                        sent()
            with m.State("ESCAPED"):
                with m.If(can):
                    with m.If(byte == END):
                        emit(ESC_END)
                    with m.Else():
                        emit(ESC_ESC)
                    m.next = "BODY"
                    sent()
            with m.State("CLOSE"):
                with m.If(can):
                    emit(END)
                    m.next = "OPEN"
        return m


# ---------------------------------------------------------------------------- the link

class Link(wiring.Component):
    """The protocol engine between a serial line and a core (see the module docstring).

    Ports: ``rx``/``tx`` (the line), the core's streams seen from the outside (``vector``,
    ``codebook``, ``active`` out; ``result`` in), ``selftest`` (a
    :class:`~madvq.hdl.selftest.SelfTestSignature`: the link starts runs and sends their
    reports), and for LEDs ``winner`` (the index of the last result from the core) and
    ``error`` (the last frame was answered with an error).

    Latency: a classify vector reaches the core a few cycles after its last byte; a reply's
    first byte leaves a few cycles after its frame's END has arrived (and the results of a
    classify request are in). Throughput: the line's, in both directions, at any divisor.
    """

    def __init__(self, link):
        _check_link(link)
        self._link = link
        cfg = link.core
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "vector": Out(stream.Signature(vector_layout(cfg))),
            "codebook": Out(stream.Signature(codebook_layout(cfg))),
            "active": Out(stream.Signature(range(cfg.templates + 1))),
            "result": In(stream.Signature(result_layout(cfg))),
            "selftest": Out(SelfTestSignature()),
            "winner": Out(cfg.index_width),
            "error": Out(1),
        })

    @property
    def link(self):
        return self._link

    def elaborate(self, platform):
        link = self._link
        cfg = link.core
        m = Module()

        uart_rx = m.submodules.uart_rx = UARTReceiver(link.divisor,
                                                      idle_bits=10 * link.timeout_bytes)
        decoder = m.submodules.decoder = SLIPDecoder()
        checker = m.submodules.checker = FrameChecker(link)
        commands = m.submodules.commands = CommandStage(link)
        replies = m.submodules.replies = ReplyQueue(link)
        builder = m.submodules.builder = ReplyBuilder(link)
        encoder = m.submodules.encoder = FrameEncoder()
        uart_tx = m.submodules.uart_tx = UARTTransmitter(link.divisor)

        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx)]
        wiring.connect(m, uart_rx.received, decoder.line)
        wiring.connect(m, decoder.tokens, checker.tokens)
        wiring.connect(m, checker.items, commands.items)
        wiring.connect(m, commands.vector, wiring.flipped(self.vector))
        wiring.connect(m, commands.codebook, wiring.flipped(self.codebook))
        wiring.connect(m, commands.active, wiring.flipped(self.active))
        wiring.connect(m, commands.selftest, wiring.flipped(self.selftest.start))
        wiring.connect(m, commands.verdicts, replies.verdicts)
        m.d.comb += commands.queue_empty.eq(replies.empty)
        wiring.connect(m, wiring.flipped(self.result), replies.results)
        wiring.connect(m, replies.replies, builder.replies)
        wiring.connect(m, wiring.flipped(self.selftest.report), builder.report)
        wiring.connect(m, builder.frames, encoder.frames)
        wiring.connect(m, encoder.line, uart_tx.send)

        # Vectors in the core: the core's credit bounds them by its result queue's depth.
        in_core = Signal(range(cfg.result_queue_depth + 2))
        sent = self.vector.valid & self.vector.ready
        back = self.result.valid & self.result.ready
        with m.If(sent & ~back):
            m.d.sync += in_core.eq(in_core + 1)
        with m.Elif(back & ~sent):
            m.d.sync += in_core.eq(in_core - 1)
        m.d.comb += [commands.core_idle.eq(in_core == 0),
                     commands.selftest_busy.eq(self.selftest.busy)]

        with m.If(back):
            m.d.sync += self.winner.eq(self.result.p.index if cfg.top_k == 1
                                       else self.result.p.index[0])
        verdict = commands.verdicts
        with m.If(verdict.valid & verdict.ready & verdict.p.reply):
            m.d.sync += self.error.eq(verdict.p.code != ErrorCode.NONE)
        return m

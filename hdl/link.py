"""The serial link of a madvq board: frames in, commands to the core, replies out.

See :mod:`madvq.hdl.protocol` for the frames. Data path::

    rx -> UARTReceiver -> rx FIFO -> parser --vector/codebook/active--> core
                                       |                                  |
                                       +-> reply FIFO       result ring <-+ result
                                             |                  |
    tx <- UARTTransmitter <- tx FIFO <- reply builder <---------+

* A first stage undoes the escaping: one rx FIFO byte into one registered event (a data
  byte, the end of a frame, or damage). The parser takes at most one event per cycle,
  checks the header as it arrives (counting the header up and the payload down, so that no
  counter is compared with another) and feeds every byte to a CRC checker. A template write
  or an active count is held in a buffer and handed to the core only after the frame's
  check has passed. Classify vectors go to the core as soon as each is complete; their
  results are written to the result ring but only *committed* (made visible to the reply
  builder) when the frame has checked; otherwise they are dropped. So nothing a damaged
  frame carries reaches the codebook or the host.
* At the end of each frame (an END byte, or the idle timeout in the middle of a frame), the
  parser waits for the frame's results, commits or drops them, performs the command and
  queues exactly one reply descriptor: replies leave in request order.
* The reply builder turns a descriptor into a frame (header, payload from constants,
  arguments, the self-test's registers or the result ring; CRC) one byte into a register,
  then escapes it and queues the bytes for the transmitter.

Throughput: the link keeps up with the line at any divisor >= 4 (at least two cycles per
byte on each side, against 40 per byte on the line); the core sees a vector as soon as its
last byte has been parsed.

The parser only stalls while the core is not ready for a complete vector, and while a
self-test runs; the rx FIFO absorbs the bytes meanwhile. A host that keeps at most
``result_queue_depth`` vectors' results unanswered never overruns it; one that does loses
bytes, and the frame they belonged to is answered with a LINE error.
"""

from amaranth.hdl import Module, Signal, Cat, Const, Mux, Array
from amaranth.lib import crc, data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import vector_layout, codebook_layout, result_layout
from .protocol import (LinkConfig, Command, ErrorCode, CRC, END, ESC, ESC_END, ESC_ESC,
                       ERROR_REPLY, REPLY_BIT)
from .selftest import CYCLE_BITS
from .uart import UARTReceiver, UARTTransmitter, received_layout


__all__ = ["Link"]


RX_FIFO_DEPTH = 16
TX_FIFO_DEPTH = 16
REPLY_FIFO_DEPTH = 4


def _byte_aligned(value, nbytes):
    """``value`` zero-extended to ``nbytes`` bytes."""
    return Cat(value, Const(0, 8 * nbytes - len(value))) if 8 * nbytes > len(value) else value


class Link(wiring.Component):
    """The protocol engine between a serial line and a core (see the module docstring).

    Ports: ``rx``/``tx`` (the line), the core's streams seen from the outside
    (``vector``, ``codebook``, ``active`` out; ``result`` in), the self-test's control
    (``selftest_start`` with ``selftest_count``/``selftest_seed``, and its ``busy``,
    ``count``, ``cycles``, ``sum1``, ``sum2``), and for LEDs ``winner`` (the last result
    received) and ``error`` (the last frame was answered with an error).
    """

    def __init__(self, link):
        if not isinstance(link, LinkConfig):
            raise TypeError(f"link must be a LinkConfig, not {link!r}")
        self._link = link
        cfg = link.core
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "vector": Out(stream.Signature(vector_layout(cfg))),
            "codebook": Out(stream.Signature(codebook_layout(cfg))),
            "active": Out(stream.Signature(range(cfg.templates + 1))),
            "result": In(stream.Signature(result_layout(cfg))),
            "selftest_start": Out(1),
            "selftest_count": Out(32),
            "selftest_seed": Out(32),
            "selftest_busy": In(1),
            "selftest_result_count": In(32),
            "selftest_cycles": In(CYCLE_BITS),
            "selftest_sum1": In(32),
            "selftest_sum2": In(32),
            "winner": Out(cfg.index_width),
            "error": Out(1),
        })

    @property
    def link(self):
        return self._link

    def elaborate(self, platform):
        link = self._link
        cfg = link.core
        M = cfg.templates
        m = Module()

        # ---------------------------------------------------------------- receive side
        uart_rx = m.submodules.uart_rx = UARTReceiver(link.divisor)
        rx_fifo = m.submodules.rx_fifo = fifo.SyncFIFOBuffered(
            width=received_layout().size, depth=RX_FIFO_DEPTH)
        m.d.comb += [
            uart_rx.rx.eq(self.rx),
            rx_fifo.w_data.eq(uart_rx.received.payload),
            rx_fifo.w_en.eq(uart_rx.received.valid),
            uart_rx.received.ready.eq(rx_fifo.w_rdy),
        ]
        rx_byte = data.View(received_layout(), rx_fifo.r_data)

        crc_rx = m.submodules.crc_rx = crc.Processor(CRC(8))

        # Frame state.
        # No counter is compared with another in the byte path (that limited the clock on
        # an iCE40): the header is counted up to 4, then the payload and check bytes down.
        pos = Signal(range(5))            # header bytes of this frame so far (saturating)
        remaining = Signal(range(link.max_payload + 3))   # payload + check bytes to come
        payload_pos = Signal(range(9))    # payload bytes so far (saturating at 8)
        command = Signal(8)
        tag = Signal(8)
        escaped = Signal()
        problem = Signal(4)               # an ErrorCode, 0 while the frame looks fine
        args = Signal(64)                 # the first 8 payload bytes (not for classify)
        raw = Signal(8 * link.vector_bytes, reset_less=True)   # one vector or template
        raw_count = Signal(range(link.vector_bytes + 1))
        vec_pending = Signal()
        write_valid = Signal()            # a checked template write is offered to the core
        active_valid = Signal()           # a checked active count is offered to the core
        sent = Signal(range(link.max_vectors + 1))       # vectors of this frame in the core
        written = Signal(range(link.max_vectors + 1))    # their results in the ring
        idle = Signal(range(link.timeout_cycles + 1))

        low = Signal(8)                   # the length's first byte
        known = Signal()
        with m.Switch(command):
            for c in Command:
                with m.Case(int(c)):
                    m.d.comb += known.eq(1)

        def value_field(raw_bits, i):
            start = 8 * link.value_bytes * i
            return raw_bits[start:start + cfg.width]
        raw_vector = Cat(*[value_field(raw, i) for i in range(cfg.dims)])

        def fail(code):
            # The first problem a frame shows is the one reported.
            with m.If(problem == 0):
                m.d.sync += problem.eq(code)

        # The payload bytes of a template write after its index, and of classify.
        template_write = command == Command.WRITE_TEMPLATE
        vector_bytes_to = Signal()

        # ---------------------------------------------------------------- result ring
        depth = link.result_queue_depth
        ring = m.submodules.ring = memory.Memory(
            shape=result_layout(cfg).size, depth=depth, init=[])
        ring_w = ring.write_port()
        ring_r = ring.read_port(transparent_for=())
        ptr_bits = (depth - 1).bit_length() + 1
        wr_ptr = Signal(ptr_bits)
        commit_ptr = Signal(ptr_bits)
        rd_ptr = Signal(ptr_bits)
        space = Signal()
        m.d.comb += [
            space.eq((wr_ptr - rd_ptr)[:ptr_bits] < depth),
            self.result.ready.eq(space),
            ring_w.addr.eq(wr_ptr[:ptr_bits - 1]),
            ring_w.data.eq(self.result.payload),
            ring_w.en.eq(self.result.valid & space),
        ]
        with m.If(self.result.valid & space):
            m.d.sync += [wr_ptr.eq(wr_ptr + 1), written.eq(written + 1),
                         self.winner.eq(self.result.p.index)]

        # ---------------------------------------------------------------- reply queue
        desc_layout = data.StructLayout({"reply": 8, "tag": 8, "arg": 16})
        replies = m.submodules.replies = fifo.SyncFIFOBuffered(
            width=desc_layout.size, depth=REPLY_FIFO_DEPTH)
        desc_in = Signal(desc_layout)
        m.d.comb += replies.w_data.eq(desc_in)
        builder_idle = Signal()

        # ---------------------------------------------------------------- parser
        take = Signal()                   # the parser takes the pending event
        dbyte = Signal(8)                 # the unescaped byte it carries
        dvalid = Signal()                 # ... when it is a frame byte
        ended = Signal()                  # ... when it ends the frame (END or timeout)
        timed_out = Signal()

        m.d.comb += [
            crc_rx.data.eq(dbyte),
            crc_rx.valid.eq(dvalid),
            crc_rx.start.eq(dvalid & (pos == 0)),
        ]

        # Stage one: undo the escaping, one rx FIFO byte into one registered event (a data
        # byte, the end of a frame, or damage), so that the parser starts from a register.
        ev_valid = Signal()
        ev_byte = Signal(8)
        ev_data = Signal()
        ev_end = Signal()
        ev_error = Signal()
        pop = Signal()
        m.d.comb += [pop.eq(rx_fifo.r_rdy & ~ev_valid), rx_fifo.r_en.eq(pop)]
        with m.If(pop):
            m.d.sync += [ev_byte.eq(rx_byte.data), ev_error.eq(rx_byte.error),
                         ev_data.eq(0), ev_end.eq(0)]
            with m.If(rx_byte.data == END):
                m.d.sync += [ev_valid.eq(1), ev_end.eq(1), escaped.eq(0),
                             ev_error.eq(rx_byte.error | escaped)]
            with m.Elif(escaped):
                m.d.sync += [
                    ev_valid.eq(1), ev_data.eq(1), escaped.eq(0),
                    ev_byte.eq(Mux(rx_byte.data == ESC_END, END, ESC)),
                    ev_error.eq(rx_byte.error | ((rx_byte.data != ESC_END)
                                                 & (rx_byte.data != ESC_ESC))),
                ]
            with m.Elif(rx_byte.data == ESC):
                # No event, unless the byte itself was damaged.
                m.d.sync += [escaped.eq(1), ev_valid.eq(rx_byte.error)]
            with m.Else():
                m.d.sync += [ev_valid.eq(1), ev_data.eq(1)]

        with m.FSM(name="parser"):
            with m.State("RECEIVE"):
                m.d.comb += [
                    take.eq(ev_valid & ~vec_pending),
                    timed_out.eq((pos != 0) & (idle == link.timeout_cycles)),
                ]
                # The timeout runs only while the frame waits for the line, not while
                # bytes wait for the core.
                with m.If(take | (pos == 0) | ev_valid | rx_fifo.r_rdy | vec_pending):
                    m.d.sync += idle.eq(0)
                with m.Elif(idle != link.timeout_cycles):
                    m.d.sync += idle.eq(idle + 1)

                with m.If(take):
                    m.d.sync += ev_valid.eq(0)
                    m.d.comb += [dvalid.eq(ev_data), dbyte.eq(ev_byte), ended.eq(ev_end)]
                    with m.If(ev_error):
                        fail(ErrorCode.LINE)
                        with m.If((pos == 0) & ~ev_data):
                            # Damage outside any frame starts a (damaged) frame, so that
                            # the loss is reported.
                            m.d.sync += pos.eq(1)
                with m.Elif(timed_out):
                    m.d.comb += ended.eq(1)
                    m.d.sync += escaped.eq(0)
                    fail(ErrorCode.TIMEOUT)

                # -- one frame byte --
                with m.If(dvalid):
                    with m.If(pos != 4):
                        m.d.sync += pos.eq(pos + 1)
                    with m.Switch(pos):
                        with m.Case(0):
                            m.d.sync += [command.eq(dbyte), args.eq(0), raw_count.eq(0),
                                         sent.eq(0), written.eq(0)]
                        with m.Case(1):
                            m.d.sync += tag.eq(dbyte)
                        with m.Case(2):
                            m.d.sync += low.eq(dbyte)
                        with m.Case(3):
                            full = Cat(low, dbyte)
                            m.d.sync += [
                                remaining.eq(Mux(full > link.max_payload, link.max_payload,
                                                 full) + 2),
                                payload_pos.eq(0),
                            ]
                            expected_len = Signal(16)
                            with m.Switch(command):
                                for c in Command:
                                    n = link.request_length(c)
                                    if n is not None:
                                        with m.Case(int(c)):
                                            m.d.comb += expected_len.eq(n)
                            with m.If(~known):
                                fail(ErrorCode.UNKNOWN_COMMAND)
                            with m.Elif(full > link.max_payload):
                                fail(ErrorCode.OVERSIZED)
                            with m.Elif(command == Command.CLASSIFY):
                                # At least one vector, at most max_vectors; that the
                                # length is a whole number of vectors is checked at the end
                                # (no payload byte is left in the vector buffer).
                                with m.If((full == 0)
                                          | (full > link.max_vectors * link.vector_bytes)):
                                    fail(ErrorCode.BAD_LENGTH)
                            with m.Elif(full != expected_len):
                                fail(ErrorCode.BAD_LENGTH)
                        with m.Default():
                            with m.If(remaining == 0):
                                fail(ErrorCode.OVERSIZED)
                            with m.Else():
                                m.d.sync += remaining.eq(remaining - 1)
                                with m.If(payload_pos != 8):
                                    m.d.sync += payload_pos.eq(payload_pos + 1)
                            with m.If((remaining > 2) & (problem == 0)):
                                # -- payload --
                                with m.If(command == Command.CLASSIFY):
                                    m.d.comb += vector_bytes_to.eq(1)
                                with m.Elif(template_write & (payload_pos >= 2)):
                                    m.d.comb += vector_bytes_to.eq(1)
                                with m.Else():
                                    with m.Switch(payload_pos):
                                        for k in range(8):
                                            with m.Case(k):
                                                m.d.sync += args[8 * k:8 * k + 8].eq(dbyte)
                                with m.If(vector_bytes_to):
                                    m.d.sync += raw.eq(Cat(raw[8:], dbyte))
                                    with m.If(raw_count == link.vector_bytes - 1):
                                        m.d.sync += raw_count.eq(0)
                                        with m.If(command == Command.CLASSIFY):
                                            m.d.sync += vec_pending.eq(1)
                                    with m.Else():
                                        m.d.sync += raw_count.eq(raw_count + 1)

                with m.If(ended):
                    with m.If(pos == 0):
                        pass                            # an empty frame: nothing to answer
                    with m.Else():
                        m.next = "FINISH"

            with m.State("FINISH"):
                # The verdict on the frame, now that its last byte is in.
                with m.If(problem == 0):
                    with m.If((pos != 4) | (remaining != 0)):
                        m.d.sync += problem.eq(ErrorCode.TRUNCATED)
                    with m.Elif(~crc_rx.match_detected):
                        m.d.sync += problem.eq(ErrorCode.CHECK)
                    with m.Elif((command == Command.CLASSIFY) & (raw_count != 0)):
                        m.d.sync += problem.eq(ErrorCode.BAD_LENGTH)
                    with m.Elif((command == Command.WRITE_TEMPLATE) & (args[:16] >= M)):
                        m.d.sync += problem.eq(ErrorCode.BAD_ARGUMENT)
                    with m.Elif((command == Command.SET_ACTIVE)
                                & ((args[:16] == 0) | (args[:16] > M))):
                        m.d.sync += problem.eq(ErrorCode.BAD_ARGUMENT)
                    with m.Elif((command == Command.SELFTEST)
                                & ((args[:32] == 0) | (args[32:64] == 0))):
                        m.d.sync += problem.eq(ErrorCode.BAD_ARGUMENT)
                with m.If(pos < 4):
                    # Not even a whole header: the command byte means nothing.
                    m.d.sync += command.eq(0)
                m.next = "SETTLE"

            with m.State("SETTLE"):
                # Wait until every vector this frame sent has its result in the ring.
                with m.If((written == sent) & ~vec_pending):
                    with m.If(problem != 0):
                        m.d.sync += wr_ptr.eq(commit_ptr)
                        m.next = "REPLY"
                    with m.Elif(command == Command.CLASSIFY):
                        m.d.sync += commit_ptr.eq(wr_ptr)
                        m.next = "REPLY"
                    with m.Elif(command == Command.WRITE_TEMPLATE):
                        m.d.sync += write_valid.eq(1)
                        m.next = "WRITE"
                    with m.Elif(command == Command.SET_ACTIVE):
                        m.d.sync += active_valid.eq(1)
                        m.next = "ACTIVE"
                    with m.Elif(command == Command.SELFTEST):
                        m.next = "SELFTEST"
                    with m.Else():
                        m.next = "REPLY"

            # The valid signals come straight from registers: the core's vector ready
            # depends on them combinationally, and a decoded state would lengthen that path.
            with m.State("WRITE"):
                with m.If(self.codebook.ready):
                    m.d.sync += write_valid.eq(0)
                    m.next = "REPLY"

            with m.State("ACTIVE"):
                with m.If(self.active.ready):
                    m.d.sync += active_valid.eq(0)
                    m.next = "REPLY"

            with m.State("SELFTEST"):
                # Start only once every earlier reply is out, so that the builder never
                # reads the self-test's registers while a new run changes them.
                with m.If(builder_idle & ~replies.r_rdy & ~self.selftest_busy):
                    m.d.comb += self.selftest_start.eq(1)
                    m.next = "SELFTEST_RUN"

            with m.State("SELFTEST_RUN"):
                with m.If(~self.selftest_busy):
                    m.next = "REPLY"

            with m.State("REPLY"):
                with m.If(problem != 0):
                    m.d.comb += [desc_in.reply.eq(ERROR_REPLY), desc_in.arg[:8].eq(problem),
                                 desc_in.arg[8:].eq(command)]
                with m.Elif(command == Command.CLASSIFY):
                    m.d.comb += [desc_in.reply.eq(command | REPLY_BIT), desc_in.arg.eq(sent)]
                with m.Else():
                    m.d.comb += [desc_in.reply.eq(command | REPLY_BIT),
                                 desc_in.arg.eq(args[:16])]
                m.d.comb += [desc_in.tag.eq(tag), replies.w_en.eq(1)]
                with m.If(replies.w_rdy):
                    m.d.sync += [self.error.eq(problem != 0), pos.eq(0), problem.eq(0),
                                 idle.eq(0), remaining.eq(0), command.eq(0),
                                 raw_count.eq(0)]
                    m.next = "RECEIVE"

        m.d.comb += [
            self.codebook.valid.eq(write_valid),
            self.active.valid.eq(active_valid),
            self.vector.valid.eq(vec_pending),
            self.vector.payload.eq(raw_vector),
            self.codebook.payload.index.eq(args[:16]),
            self.codebook.payload.template.eq(raw_vector),
            self.active.payload.eq(args[:16]),
            self.selftest_count.eq(args[:32]),
            self.selftest_seed.eq(args[32:64]),
        ]
        with m.If(self.vector.valid & self.vector.ready):
            m.d.sync += [vec_pending.eq(0), sent.eq(sent + 1)]

        # ---------------------------------------------------------------- reply builder
        crc_tx = m.submodules.crc_tx = crc.Processor(CRC(8))
        tx_fifo = m.submodules.tx_fifo = fifo.SyncFIFOBuffered(width=8, depth=TX_FIFO_DEPTH)
        uart_tx = m.submodules.uart_tx = UARTTransmitter(link.divisor)
        m.d.comb += [
            uart_tx.send.valid.eq(tx_fifo.r_rdy),
            uart_tx.send.payload.eq(tx_fifo.r_data),
            tx_fifo.r_en.eq(uart_tx.send.ready),
            self.tx.eq(uart_tx.tx),
        ]

        # Two stages, so that no wide comparison sits in front of the FIFO write: the
        # producer puts the next unescaped byte of the frame into ``pend`` (one byte per
        # step, feeding the CRC), the escaper moves ``pend`` into the tx FIFO.
        desc = Signal(desc_layout)
        longest = max(link.max_vectors * link.result_bytes, link.IDENTIFY_BYTES,
                      link.SELFTEST_REPLY_BYTES, 2)
        out_len = Signal(range(longest + 1))
        left = Signal(range(longest + 1))      # payload bytes still to produce
        q = Signal(range(longest + 1))         # payload byte being produced
        hdr = Signal(range(4))                 # header byte being produced
        result_sub = Signal(range(link.result_bytes))
        result_sr = Signal(8 * link.result_bytes, reset_less=True)
        pend = Signal(8)
        pend_valid = Signal()
        pend_last = Signal()                   # pend is the frame's last byte
        closing = Signal()                     # pend is the closing END
        esc_sent = Signal()                    # the ESC of an escaped byte is out
        produce = Signal()                     # the producer moves on this cycle
        produced = Signal(8)

        res = data.View(result_layout(cfg), ring_r.data)
        db = link.distance_bytes
        fields = [_byte_aligned(res.index, link.index_bytes),
                  _byte_aligned(res.distance, db)]
        if cfg.distances:
            fields += [_byte_aligned(res.distances[j], db) for j in range(M)]
        # The ring's output is registered once more before use: a block RAM's read is slow
        # (about 6 ns on an ECP5). ``rd_ptr`` moves at least four cycles before the next
        # result's first byte is produced (two per byte, two bytes or more per result).
        result_bytes_now = Signal(8 * link.result_bytes, reset_less=True)
        m.d.sync += result_bytes_now.eq(Cat(*fields))
        m.d.comb += ring_r.addr.eq(rd_ptr[:ptr_bits - 1])

        identify = list(link.identify_payload())
        selftest_bytes = Cat(self.selftest_result_count,
                             _byte_aligned(self.selftest_cycles, 8),
                             self.selftest_sum1, self.selftest_sum2)
        is_classify = Signal()
        m.d.comb += is_classify.eq(desc.reply == (Command.CLASSIFY | REPLY_BIT))

        payload_byte = Signal(8)
        with m.Switch(desc.reply):
            with m.Case(Command.IDENTIFY | REPLY_BIT):
                m.d.comb += payload_byte.eq(Array(Const(b, 8) for b in identify)[
                    q[:(len(identify) - 1).bit_length()]])
            with m.Case(Command.CLASSIFY | REPLY_BIT):
                m.d.comb += payload_byte.eq(Mux(result_sub == 0, result_bytes_now[:8],
                                                result_sr[:8]))
            with m.Case(Command.SELFTEST | REPLY_BIT):
                m.d.comb += payload_byte.eq(
                    Array(selftest_bytes[8 * k:8 * k + 8] for k in range(20))[q[:5]])
            with m.Default():            # acknowledgements and errors: the 2-byte argument
                m.d.comb += payload_byte.eq(Mux(q[0], desc.arg[8:], desc.arg[:8]))

        m.d.comb += [
            crc_tx.data.eq(produced),
            crc_tx.start.eq(0),
        ]
        with m.If(produce):
            m.d.sync += [pend.eq(produced), pend_valid.eq(1)]

        with m.FSM(name="builder"):
            with m.State("IDLE"):
                m.d.comb += builder_idle.eq(~replies.r_rdy & ~pend_valid)
                with m.If(replies.r_rdy & ~pend_valid):
                    d = data.View(desc_layout, replies.r_data)
                    m.d.comb += replies.r_en.eq(1)
                    m.d.sync += [desc.eq(d), hdr.eq(0), q.eq(0), result_sub.eq(0)]
                    with m.Switch(d.reply):
                        with m.Case(Command.IDENTIFY | REPLY_BIT):
                            m.d.sync += out_len.eq(len(identify))
                        with m.Case(Command.CLASSIFY | REPLY_BIT):
                            count = d.arg[:(link.max_vectors).bit_length()]
                            m.d.sync += out_len.eq(count * link.result_bytes)
                        with m.Case(Command.SELFTEST | REPLY_BIT):
                            m.d.sync += out_len.eq(link.SELFTEST_REPLY_BYTES)
                        with m.Default():
                            m.d.sync += out_len.eq(2)
                    m.next = "START"
            with m.State("START"):
                # The opening END goes straight to the FIFO (it is never escaped).
                m.d.comb += [tx_fifo.w_data.eq(END), tx_fifo.w_en.eq(1)]
                with m.If(tx_fifo.w_rdy):
                    m.d.sync += left.eq(out_len)
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += produced.eq(Array([desc.reply, desc.tag, out_len[:8],
                                               out_len >> 8])[hdr])
                with m.If(~pend_valid):
                    m.d.comb += [produce.eq(1), crc_tx.valid.eq(1),
                                 crc_tx.start.eq(hdr == 0)]
                    m.d.sync += hdr.eq(hdr + 1)
                    with m.If(hdr == 3):
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += produced.eq(payload_byte)
                with m.If(left == 0):
                    m.next = "CHECK_HI"
                with m.Elif(~pend_valid):
                    m.d.comb += [produce.eq(1), crc_tx.valid.eq(1)]
                    m.d.sync += [left.eq(left - 1), q.eq(q + 1)]
                    with m.If(is_classify):
                        with m.If(result_sub == 0):
                            m.d.sync += [result_sr.eq(result_bytes_now >> 8),
                                         rd_ptr.eq(rd_ptr + 1)]
                        with m.Else():
                            m.d.sync += result_sr.eq(result_sr >> 8)
                        m.d.sync += result_sub.eq(Mux(result_sub == link.result_bytes - 1, 0,
                                                      result_sub + 1))
            with m.State("CHECK_HI"):
                m.d.comb += produced.eq(crc_tx.crc[8:])
                with m.If(~pend_valid):
                    m.d.comb += produce.eq(1)
                    m.next = "CHECK_LO"
            with m.State("CHECK_LO"):
                m.d.comb += produced.eq(crc_tx.crc[:8])
                with m.If(~pend_valid):
                    m.d.comb += produce.eq(1)
                    m.d.sync += pend_last.eq(1)
                    m.next = "IDLE"

        # The escaper; after the frame's last byte it adds the closing END (unescaped).
        special = (pend == END) | (pend == ESC)
        with m.If(pend_valid & closing):
            m.d.comb += [tx_fifo.w_data.eq(END), tx_fifo.w_en.eq(1)]
            with m.If(tx_fifo.w_rdy):
                m.d.sync += [closing.eq(0), pend_valid.eq(0)]
        with m.Elif(pend_valid):
            m.d.comb += tx_fifo.w_en.eq(1)
            with m.If(special & ~esc_sent):
                m.d.comb += tx_fifo.w_data.eq(ESC)
                with m.If(tx_fifo.w_rdy):
                    m.d.sync += esc_sent.eq(1)
            with m.Else():
                m.d.comb += tx_fifo.w_data.eq(
                    Mux(esc_sent, Mux(pend == END, ESC_END, ESC_ESC), pend))
                with m.If(tx_fifo.w_rdy):
                    m.d.sync += [esc_sent.eq(0), pend_valid.eq(0)]
                    with m.If(pend_last):
                        m.d.sync += [pend_valid.eq(1), pend_last.eq(0), closing.eq(1)]
        return m

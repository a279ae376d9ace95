"""On-chip self-test: LFSR vectors through the core at full clock, with a cycle count and a
checksum of the results.

The vectors come from one bit sequence ``s`` with ``s[t + 127] = s[t + 1] ^ s[t]``
(characteristic polynomial x^127 + x + 1: irreducible, and 2^127 - 1 is prime, so the
sequence has the maximal period 2^127 - 1 for any nonzero start). The 127 starting bits are
the 32-bit seed repeated, XORed with a fixed constant (the first hexadecimal digits of pi) so
that a seed with few bits set does not start a long run of zeros:
``s[j] = seed[j % 32] ^ START[j]`` for j < 127. Vector k is made of the N*W bits
``s[k*N*W ...]``, value i of bits ``[i*W +: W]`` (least significant first, two's complement
when signed). :mod:`madvq.sim.selftest` computes the same sequence with NumPy.

The checksum is Fletcher-like and so depends on the order of the results: with
``word_k = ((index_k << D) | distance_k) mod 2^32``, ``sum1 = sum(word) mod 2^32`` and
``sum2 = sum over k of (word_0 + ... + word_k) mod 2^32``.
"""

from amaranth.hdl import Module, Signal, Cat, Const
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import CoreConfig
from .layouts import vector_layout, result_layout


__all__ = ["LFSR_DEGREE", "LFSR_TAP", "SEED_BITS", "START", "REPORT_BYTES", "window_width",
           "initial_masks", "step_masks", "start_layout", "SelfTestSignature", "SelfTest"]


LFSR_DEGREE = 127
LFSR_TAP = 1
SEED_BITS = 32
START = 0x243F6A8885A308D313198A2E03707344 & ((1 << LFSR_DEGREE) - 1)
CYCLE_BITS = 48
#: The report: count (4), cycles (8), sum1 (4), sum2 (4), little-endian.
REPORT_BYTES = 20


def start_layout():
    """A self-test request: ``count`` vectors (>= 1) from ``seed`` (nonzero)."""
    return data.StructLayout({"count": 32, "seed": SEED_BITS})


class SelfTestSignature(wiring.Signature):
    """How a controller (the serial link) drives the self-test, seen from the controller:
    ``start`` (one transfer per run, accepted only when the previous run's report has been
    read), ``report`` (the run's :data:`REPORT_BYTES` bytes, offered once the run is over)
    and ``busy`` (the run is using the core)."""

    def __init__(self):
        super().__init__({
            "start": Out(stream.Signature(start_layout())),
            "report": In(stream.Signature(8)),
            "busy": In(1),
        })


def window_width(config):
    """Bits of the generator's state: one vector, and at least the LFSR's degree."""
    return max(LFSR_DEGREE, config.dims * config.width)


def _extend(masks, upto):
    # s[t] = s[t - 127 + 1] ^ s[t - 127], as masks over whatever basis masks[0:127] use.
    masks = list(masks)
    while len(masks) < upto:
        t = len(masks)
        masks.append(masks[t - LFSR_DEGREE + LFSR_TAP] ^ masks[t - LFSR_DEGREE])
    return masks


def initial_masks(config):
    """For each bit of the first window, the seed bits whose XOR it is (bit masks; bit
    ``SEED_BITS`` stands for a constant 1)."""
    start = [(1 << (j % SEED_BITS)) | ((START >> j & 1) << SEED_BITS)
             for j in range(LFSR_DEGREE)]
    return _extend(start, window_width(config))


def step_masks(config):
    """For each bit of the next window (one vector further on), the bits of the current
    window whose XOR it is (bit masks)."""
    width = window_width(config)
    step = config.dims * config.width
    seq = _extend([1 << j for j in range(width)], step + width)
    return seq[step:step + width]


def _xor_of(source, mask):
    terms = [source[j] for j in range(len(source)) if mask >> j & 1]
    if not terms:
        return Const(0, 1)
    value = terms[0]
    for t in terms[1:]:
        value = value ^ t
    return value


def _count_in_pieces(m, counter, step, piece=16):
    """``counter += step`` (+1 or -1), as counters of ``piece`` bits, each stepping when every
    piece below it wraps: no carry chain longer than a piece (a 32- or 48-bit one would
    limit the core's clock on the iCE40). Call it under the enable."""
    wrap = (1 << piece) - 1 if step > 0 else 0
    lower_wrap = Const(1)
    for k in range(0, len(counter), piece):
        part = counter[k:k + piece]
        with m.If(lower_wrap):
            m.d.sync += part.eq(part + step)
        lower_wrap = lower_wrap & (part == (wrap & ((1 << len(part)) - 1)))


def _add_in_pieces(m, total, pieces, valid, piece=8):
    """``total += value`` when ``valid``, ``piece`` bits at a time: piece k of the value
    (``pieces[k]``, which the caller gives k cycles after ``valid``) is added with the carry
    of piece k - 1 k cycles after ``valid``. No carry chain is longer than a piece (a 32-bit
    one would limit the core's clock on the iCE40). Returns the registers that are high in
    the cycles the pieces are added (``valid`` first)."""
    valids = [valid]
    carry = None
    for k, value in enumerate(pieces):
        part = total[k * piece:(k + 1) * piece]
        if k:
            v = Signal(name=f"piece{k}_valid")
            m.d.sync += v.eq(valids[-1])
            valids.append(v)
        out = Signal(name=f"piece{k}_carry")
        with m.If(valids[k]):
            m.d.sync += Cat(part, out).eq(part + value + (0 if carry is None else carry))
        carry = out
    return valids


def _delayed_pieces(m, value, piece=8):
    """The pieces of ``value``, piece k delayed k cycles (for :func:`_add_in_pieces`)."""
    pieces = []
    for k in range(len(value) // piece):
        v = value[k * piece:(k + 1) * piece]
        for _ in range(k):
            d = Signal(piece, reset_less=True)
            m.d.sync += d.eq(v)
            v = d
        pieces.append(v)
    return pieces


class SelfTest(wiring.Component):
    """Runs ``count`` LFSR vectors through a core and sums its results.

    ``control`` (:class:`SelfTestSignature`, flipped): a ``start`` transfer (``count`` >= 1,
    ``seed`` nonzero) raises ``busy``; then ``vector`` offers a new vector in every cycle in
    which the previous one was taken (one vector per cycle cores), or two cycles after it
    (cores of two or more rounds, which take one every ``rounds`` cycles): the core's full
    rate either way; ``result`` is always ready.
    ``busy`` falls when the last result has been summed, and ``report`` then offers the
    run's count, cycles (from the first cycle a vector was offered to the cycle the last
    result was taken, both counted), ``sum1`` and ``sum2`` (see the module docstring), one
    byte per transfer; the next ``start`` is accepted once the report has been read. The
    sums are pipelined (six cycles, in 8-bit pieces) so they never limit the clock.
    """

    def __init__(self, config):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        self._config = config
        super().__init__({
            "control": In(SelfTestSignature()),
            "vector": Out(stream.Signature(vector_layout(config))),
            "result": In(stream.Signature(result_layout(config))),
        })

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        ctl = self.control
        start = ctl.start
        width = window_width(cfg)
        window = Signal(width, reset_less=True)
        # A start is taken into `seed` and `count`, and the generator set up from them in the
        # next cycle (`starting`): the start's handshake then enables these two registers
        # only, not the whole generator.
        seed = Signal(SEED_BITS, reset_less=True)
        starting = Signal()
        seed_one = Cat(seed, Const(1, 1))
        seed_next = Cat(*[_xor_of(seed_one, mk) for mk in initial_masks(cfg)])
        step_next = Cat(*[_xor_of(window, mk) for mk in step_masks(cfg)])

        count = Signal(32)
        cycles = Signal(CYCLE_BITS)
        sum1 = Signal(32)
        sum2 = Signal(32)
        to_send = Signal(32)
        sending = Signal()                              # to_send != 0
        # Vectors in the core: its credit bounds them by its result queue's depth.
        in_core = Signal(range(cfg.result_queue_depth + 2))
        # Checksum pipeline: the word, then sum1, then sum2.
        word = Signal(32, reset_less=True)
        word_valid = Signal()
        sum1_valid = Signal()
        reporting = Signal()
        position = Signal(range(REPORT_BYTES))

        sent = self.vector.valid & self.vector.ready
        if cfg.rounds == 1:
            advance = sent
            offer = sending
        else:
            # The core takes a vector at most every `rounds` cycles: the generator moves on
            # a cycle after a transfer, from a register, so that the core's ready reaches
            # one flip-flop rather than the window's and the counter's enables across the
            # chip (the slowest path of a board whose core runs at twice the link's clock),
            # and offers the next vector a cycle later, still before the core can take it.
            advance = Signal()
            m.d.sync += advance.eq(sent)
            # `sending & ~advance`, as a register of its own: the core's ready depends on it.
            offer = Signal()
            with m.If(starting):
                m.d.sync += offer.eq(count != 0)
            with m.Elif(sent):
                m.d.sync += offer.eq(0)
            with m.Elif(advance):
                m.d.sync += offer.eq(to_send != 1)
        m.d.comb += [
            # From registers: the core's ready depends on valid, and a 32-bit comparison
            # in front of it would be on the slowest path of the board.
            self.vector.valid.eq(offer),
            self.vector.payload.eq(window[:cfg.dims * cfg.width]),
            self.result.ready.eq(1),
            start.ready.eq(~ctl.busy & ~reporting),
        ]

        with m.If(start.valid & start.ready):
            m.d.sync += [
                seed.eq(start.p.seed), count.eq(start.p.count), starting.eq(1),
                ctl.busy.eq(1), cycles.eq(0), sum1.eq(0), sum2.eq(0),
            ]
        with m.If(starting):
            m.d.sync += [starting.eq(0), window.eq(seed_next), to_send.eq(count),
                         sending.eq(count != 0)]
        with m.If(advance):
            m.d.sync += [window.eq(step_next), sending.eq(to_send != 1)]
            _count_in_pieces(m, to_send, -1)

        # Only this run's vectors are in the core while it is busy.
        got = self.result.valid & ctl.busy
        # Counted on `advance` (a cycle late with rounds, from a register): `sending` still
        # holds `waiting` up in that cycle, and no result can come back that soon.
        with m.If(advance & ~got):
            m.d.sync += in_core.eq(in_core + 1)
        with m.Elif(got & ~advance):
            m.d.sync += in_core.eq(in_core - 1)
        waiting = sending | (in_core != 0)              # results still to come
        # Counted a cycle late, from a register: the count's enable is then off the path
        # from the core's ready. The last count lands before the report is made (the last
        # result's checksum stages come after it).
        counting = Signal()
        m.d.sync += counting.eq(ctl.busy & waiting)
        with m.If(counting):
            _count_in_pieces(m, cycles, +1)

        full_word = Cat(self.result.p.distance, self.result.p.index)
        m.d.sync += [word.eq(full_word[:32]), word_valid.eq(got), sum1_valid.eq(word_valid)]
        # Each sum in 8-bit pieces, each a cycle behind the one below it (a 32-bit carry
        # chain would limit the core's clock on the iCE40): sum1 takes the word's pieces
        # as late, and sum2 adds each piece of sum1 as it is complete.
        _add_in_pieces(m, sum1, _delayed_pieces(m, word), word_valid)
        sum2_valids = _add_in_pieces(m, sum2, [sum1[k:k + 8] for k in range(0, 32, 8)],
                                     sum1_valid)
        summing = word_valid
        for v in sum2_valids:
            summing = summing | v
        with m.If(ctl.busy & ~starting & ~waiting & ~summing):
            m.d.sync += [ctl.busy.eq(0), reporting.eq(1), position.eq(0)]

        self._report(m, Cat(count, cycles, Const(0, 64 - CYCLE_BITS), sum1, sum2),
                     reporting, position)
        return m

    def _report(self, m, report, reporting, position):
        """The report's bytes, ``position`` the one offered while ``reporting``."""
        ctl = self.control
        # The report's 32-bit word first, then its byte: a mux over the words and one over
        # four bytes cost less logic than one over twenty bytes (a selection that wide
        # becomes a shifter).
        word = Signal(32)
        with m.Switch(position[2:]):
            for k in range(REPORT_BYTES // 4):
                with m.Case(k):
                    m.d.comb += word.eq(report[32 * k:32 * k + 32])
        m.d.comb += [
            ctl.report.valid.eq(reporting),
            ctl.report.payload.eq(word.word_select(position[:2], 8)),
        ]
        with m.If(ctl.report.valid & ctl.report.ready):
            m.d.sync += position.eq(position + 1)
            with m.If(position == REPORT_BYTES - 1):
                m.d.sync += reporting.eq(0)

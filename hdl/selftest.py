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


class SelfTest(wiring.Component):
    """Runs ``count`` LFSR vectors through a core and sums its results.

    ``control`` (:class:`SelfTestSignature`, flipped): a ``start`` transfer (``count`` >= 1,
    ``seed`` nonzero) raises ``busy``; then ``vector`` offers a new vector in every cycle in
    which the previous one was taken (the core's full rate) and ``result`` is always ready.
    ``busy`` falls when the last result has been summed, and ``report`` then offers the
    run's count, cycles (from the first cycle a vector was offered to the cycle the last
    result was taken, both counted), ``sum1`` and ``sum2`` (see the module docstring), one
    byte per transfer; the next ``start`` is accepted once the report has been read. The
    sums are pipelined (two cycles) so they never limit the clock.
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
        seed_one = Cat(start.p.seed, Const(1, 1))
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

        m.d.comb += [
            # From a register: the core's ready depends on valid, and a 32-bit comparison
            # in front of it would be on the slowest path of the board.
            self.vector.valid.eq(sending),
            self.vector.payload.eq(window[:cfg.dims * cfg.width]),
            self.result.ready.eq(1),
            start.ready.eq(~ctl.busy & ~reporting),
        ]

        with m.If(start.valid & start.ready):
            m.d.sync += [
                window.eq(seed_next), to_send.eq(start.p.count), count.eq(start.p.count),
                sending.eq(start.p.count != 0),
                ctl.busy.eq(1), cycles.eq(0), sum1.eq(0), sum2.eq(0),
            ]
        sent = self.vector.valid & self.vector.ready
        with m.If(sent):
            m.d.sync += [window.eq(step_next), to_send.eq(to_send - 1),
                         sending.eq(to_send != 1)]

        # Only this run's vectors are in the core while it is busy.
        got = self.result.valid & ctl.busy
        with m.If(sent & ~got):
            m.d.sync += in_core.eq(in_core + 1)
        with m.Elif(got & ~sent):
            m.d.sync += in_core.eq(in_core - 1)
        waiting = sending | (in_core != 0)              # results still to come
        with m.If(ctl.busy & waiting):
            m.d.sync += cycles.eq(cycles + 1)

        full_word = Cat(self.result.p.distance, self.result.p.index)
        m.d.sync += [word.eq(full_word[:32]), word_valid.eq(got), sum1_valid.eq(word_valid)]
        with m.If(word_valid):
            m.d.sync += sum1.eq(sum1 + word)
        with m.If(sum1_valid):
            m.d.sync += sum2.eq(sum2 + sum1)
        with m.If(ctl.busy & ~waiting & ~word_valid & ~sum1_valid):
            m.d.sync += [ctl.busy.eq(0), reporting.eq(1), position.eq(0)]

        # The report's 32-bit word first, then its byte: a mux over the words and one over
        # four bytes cost less logic than one over twenty bytes (a selection that wide
        # becomes a shifter).
        report = Cat(count, cycles, Const(0, 64 - CYCLE_BITS), sum1, sum2)
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
        return m

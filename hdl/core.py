"""The MAD vector-quantizer core: distance units, winner-take-all, codebook, sequencing.

Microarchitecture (cycle numbers count from the cycle ``a`` in which a vector transfers):

* The vector reaches the distance units after ``config.input_latency`` cycles: through the
  input register, where it stays for ``rounds = ceil(M/P)`` cycles; with P = M through a
  staging register and one copy of the input register per distance unit (per two with
  ``ecp5`` arithmetic; :func:`~madvq.hdl.registers.register_copy`, ``(* keep *)`` in the
  exported Verilog). In round ``r`` the P distance units see templates ``r*P .. r*P+P-1``
  (see :class:`Codebook`).
* Each :class:`DistanceUnit` computes its distance in ``config.distance_latency`` registered
  stages (N absolute differences, an adder tree, a last stage).
* A :class:`WinnerTree` picks the round's nearest active template in
  ``config.winner_latency`` cycles. With P < M, a running minimum over the rounds adds one
  cycle after the last round. With ``top_k`` > 1 a :class:`~madvq.hdl.topk.TopKTree` and a
  running merge of K-lists take their place (:mod:`madvq.hdl.topk`).
* The result enters a queue (:func:`result_queue`, ``config.result_queue_latency`` cycles)
  that also absorbs output back-pressure.

Flow control is by credit: the datapath never stalls (no enable fans out to thousands of
registers); a vector is accepted only while the result queue is sure to have room for its
result, counting every result still in flight. The queue depth is chosen so that this never
throttles a consumer that is always ready. Configuration writes are registered (and decoded)
before they take effect, each vector still seeing the codebook and active count as they stood
when it transferred. Everything else follows from :class:`~madvq.hdl.config.CoreConfig`,
whose ``latency_cycles`` is the sum above.
"""

from dataclasses import dataclass

from amaranth.hdl import Module, Signal, Mux, Cat, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .codebook import Codebook
from .config import check_config
from .distance import DistanceUnit
from .layouts import vector_layout, codebook_layout, result_layout
from .registers import delay, register_copy
from .topk import nearest_result
from .winner import WinnerTree


__all__ = ["result_queue", "MADCore"]


@dataclass(frozen=True)
class _Sequencer:
    """What the sequencer hands the datapath: the vector handshake (``accept``), the input
    register's state in this cycle (holds a vector, is free, its round and the index of
    lane 0's template in it, the active mask shifted to the round), the vector each distance
    unit sees, and the codebook write as the codebook sees it."""
    accept: object
    busy: object
    free: object
    rnd: object
    base: object
    vec_active: object
    vectors: list
    write_en: object
    write: object


def result_queue(config):
    """The queue that holds a core's results until the consumer takes them:
    ``config.result_queue_depth`` entries, from :mod:`amaranth.lib.fifo`.

    An entry written in cycle t is offered from cycle ``t + config.result_queue_latency``:
    with ``generic`` arithmetic a :class:`~amaranth.lib.fifo.SyncFIFOBuffered` (its memory
    read synchronously, so that it fits block RAM; 2 cycles), with ``ecp5`` arithmetic a
    :class:`~amaranth.lib.fifo.SyncFIFO` (read asynchronously, from distributed RAM;
    1 cycle). One entry can enter and one leave every cycle. The core's credit counter never
    writes to a full queue. Both count their entries with a level register, so a full queue
    can never be mistaken for an empty one, whatever the depth.
    """
    width = result_layout(config).size
    depth = config.result_queue_depth
    if config.result_queue_latency == 2:
        return fifo.SyncFIFOBuffered(width=width, depth=depth)
    return fifo.SyncFIFO(width=width, depth=depth)


class MADCore(wiring.Component):
    """A vector quantizer: the nearest of the active stored templates to each vector, by
    sum of absolute differences (the mean absolute difference times N).

    Streams (``amaranth.lib.stream``, valid/ready, full back-pressure):

    * ``vector`` (in): N values.
    * ``result`` (out): ``index`` of the nearest active template (ties to the lowest index),
      its ``distance``, and with ``distances=True`` all M ``distances`` (every template,
      active or not, against what it stores).
    * ``codebook`` (in): ``index`` and the N values of one template.
    * ``active`` (in): the number m of active templates (1..M; others are ignored); templates
      0..m-1 compete. After reset m = M. The codebook keeps its contents across reset
      (initially all zero).

    A vector's result uses the codebook and m as they stood when the vector transferred.
    Pending ``codebook`` or ``active`` writes take precedence over new vectors (which also
    wait two cycles after an ``active`` write, and with P < M one after a codebook write,
    while it lands); a codebook write waits for a vector that is part-way through its rounds.

    Latency ``config.latency_cycles``; one vector every ``config.cycles_per_vector`` cycles
    while the result stream is ready.
    """

    def __init__(self, config):
        check_config(config)
        self._config = config
        super().__init__({
            "vector": In(stream.Signature(vector_layout(config))),
            "codebook": In(stream.Signature(codebook_layout(config))),
            "active": In(stream.Signature(range(config.templates + 1))),
            "result": Out(stream.Signature(result_layout(config))),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        active, changing = self._active_mask(m)

        # -- credit: results in flight or queued --
        depth = cfg.result_queue_depth
        queue = m.submodules.queue = result_queue(cfg)
        # The results owed, as a thermometer code: bit k is set while more than k are owed.
        # Counting up or down shifts it by one place, so each bit's next value is one LUT of
        # its neighbours and the two counting flags, with no carry chain between the count
        # and itself (on an ECP5 a binary count's increment was the core's slowest path);
        # ``full`` is its top bit, a register.
        owed = Signal(depth, name="credit_owed")
        full = Signal()
        m.d.comb += full.eq(owed[depth - 1])
        delivered = self.result.valid & self.result.ready

        book = m.submodules.codebook = Codebook(cfg)
        seq = self._sequencer(m, platform, book, active, changing, full)

        # A delivery frees its credit a cycle later (the output handshake stays off this
        # counter's path); the handshake only picks a shift (and enables the register).
        freed = delay(m, delivered, 1, "delivered", reset=True)
        counted = seq.accept
        if cfg.rounds > 1:
            # With rounds, an accepted vector is counted a cycle later, so that the counter
            # and ``full`` are off the handshake's path (on a board, the slowest path runs
            # from the link's valid through ``ready`` into them). The count lags only in
            # the cycle after an acceptance, in which ``free`` is low and no vector can be
            # taken: ``full`` is never read stale.
            counted = delay(m, seq.accept, 1, "accepted", reset=True)
        up = counted & ~freed
        down = freed & ~counted
        with m.If(up | down):
            m.d.sync += owed.eq(Mux(up, Cat(1, owed[:-1]), owed[1:]))

        result, result_valid = self._datapath(m, seq, book)
        m.d.comb += [
            queue.w_en.eq(result_valid),
            queue.w_data.eq(result),
            self.result.valid.eq(queue.r_rdy),
            self.result.payload.eq(queue.r_data),
            queue.r_en.eq(self.result.ready),
        ]
        return m

    def _active_mask(self, m):
        """The active count m as a mask of the templates that compete, decoded (in a stage
        of its own) from a registered copy of the write, so that the datapath only selects
        bits of it; a vector waits out the cycles in which the mask changes. Returns the
        mask and a register that says a write is on its way (registered or decoded)."""
        M = self._config.templates
        active = Signal(M, init=(1 << M) - 1)
        m.d.comb += self.active.ready.eq(1)
        active_write = delay(m, self.active.valid, 1, "active_write", reset=True)
        active_count = delay(m, self.active.p, 1, "active_count")
        decoded = Signal(M, name="active_decoded", reset_less=True)
        decoded_valid = Signal(name="active_decoded_valid")
        # Each mask bit is a function of the count alone (a small LUT tree); counts outside
        # 1..M are not applied.
        for j in range(M):
            m.d.sync += decoded[j].eq(active_count > j)
        applied = active_write & (active_count != 0) & (active_count <= M)
        m.d.sync += decoded_valid.eq(applied)
        with m.If(decoded_valid):
            m.d.sync += active.eq(decoded)
        # active_write | decoded_valid, as one register of its own for the handshake.
        changing = Signal(name="active_changing")
        m.d.sync += changing.eq(self.active.valid | applied)
        return active, changing

    def _sequencer(self, m, platform, book, active, changing, full):
        """The input register and its rounds, the handshakes of the vector and codebook
        streams, and the codebook write as the codebook sees it."""
        cfg = self._config
        P, C, M = cfg.templates_per_cycle, cfg.rounds, cfg.templates
        busy = Signal()                          # the input register holds a vector
        rnd = Signal(range(C))
        base = Signal(cfg.index_width)           # index of lane 0's template this round
        # The input register holds a vector in its last round; it is free, or in its last
        # round: it may take the next vector. Both are registers, computed a cycle ahead, so
        # that the handshake does not wait for the round counter.
        last = Signal()
        free = Signal(init=1)
        vec = Signal(vector_layout(cfg), name="vec", reset_less=True)
        # Lane p's template competes in this round: the active mask, shifted by P per round.
        vec_active = Signal(M, reset_less=True)

        write_en = self.codebook.valid & self.codebook.ready
        write = self.codebook.p
        config_pending = self.codebook.valid | self.active.valid | changing
        if C > 1:
            # The write is registered before it reaches the codebook (its decoder and the
            # rings' enables are far from the handshake); a vector waits out that cycle.
            write_en = delay(m, write_en, 1, "codebook_write_en", reset=True)
            write = delay(m, write, 1, "codebook_write")
            config_pending = config_pending | write_en
        m.d.comb += [
            # ``book.home``: the codebook's rings are (back) at their home position, which a
            # reset in the middle of a vector's rounds can delay (see Codebook).
            self.vector.ready.eq(free & ~full & ~config_pending & book.home),
            self.codebook.ready.eq(free & book.home),
        ]
        accept = self.vector.valid & self.vector.ready

        # The input register loads whenever it is free, whether a vector transfers or not
        # (``busy`` says which): its enable does not wait for the handshake, and with one
        # round per vector it needs none at all.
        if C == 1:
            m.d.comb += [last.eq(busy), free.eq(1)]
            # One vector per clock drives all M distance units: the vector goes through a
            # staging register into one copy of the input register per unit (per two units
            # with ecp5 arithmetic), each placed beside its units, instead of one register
            # reaching across the whole chip. A codebook write takes two cycles more (see
            # Codebook), so each vector still sees the codebook as it stood when it
            # transferred.
            staged = Signal(vector_layout(cfg), name="vector_staged", reset_less=True)
            staged_valid = Signal()
            m.d.sync += [staged.eq(self.vector.p), staged_valid.eq(accept),
                         busy.eq(staged_valid), vec_active.eq(active)]
            # With ecp5 arithmetic a copy serves two units: its leaves tolerate the longer
            # wires, and 128 fewer flip-flops per unit pack the units closer together.
            share = 2 if cfg.arithmetic == "ecp5" else 1
            copies = [vector_layout(cfg)(register_copy(m, staged.as_value(), f"vec{k}",
                                                       platform))
                      for k in range(-(-P // share))]
            vecs = [copies[p // share] for p in range(P)]
        else:
            m.d.sync += busy.eq(accept | (busy & ~last))
            with m.If(free):
                m.d.sync += [rnd.eq(0), base.eq(0), vec.eq(self.vector.p),
                             vec_active.eq(active)]
            with m.Else():
                m.d.sync += [rnd.eq(rnd + 1), base.eq(base + P),
                             vec_active.eq(vec_active >> P)]
            with m.If(accept):                   # round 0 of C > 1 next
                m.d.sync += [last.eq(0), free.eq(0)]
            with m.Elif(busy & ~last):           # round rnd + 1 next
                m.d.sync += [last.eq(rnd == C - 2), free.eq(rnd == C - 2)]
            with m.Else():                       # idle next
                m.d.sync += [last.eq(0), free.eq(1)]
            vecs = [vec] * P
        return _Sequencer(accept=accept, busy=busy, free=free, rnd=rnd, base=base,
                          vec_active=vec_active, vectors=vecs, write_en=write_en,
                          write=write)

    def _datapath(self, m, seq, book):
        """The codebook, the distance units and the winner-take-all, with the round's
        bookkeeping travelling alongside; returns each vector's result and its valid flag,
        into the result queue."""
        cfg = self._config
        P, C, M = cfg.templates_per_cycle, cfg.rounds, cfg.templates
        # -- codebook --
        m.d.comb += [
            book.write_en.eq(seq.write_en),
            book.write.eq(seq.write),
            book.turn.eq(seq.busy),
            book.next_round.eq(Mux(seq.free, 0, seq.rnd + 1)),
        ]

        # -- distance units, with the round's bookkeeping travelling alongside --
        ctl_layout = data.StructLayout({
            "first": 1, "last": 1,
            "base": unsigned(cfg.index_width),
            "active": unsigned(P),        # lane p's template competes
        })
        ctl = Signal(ctl_layout)
        m.d.comb += [ctl.first.eq(seq.rnd == 0), ctl.last.eq(seq.rnd == C - 1),
                     ctl.base.eq(seq.base)]
        m.d.comb += ctl.active.eq(seq.vec_active[:P])

        lanes = []
        for p in range(P):
            unit = m.submodules[f"unit{p}"] = DistanceUnit(cfg)
            m.d.comb += [unit.vector.eq(seq.vectors[p]), unit.template.eq(book.templates[p])]
            lanes.append(unit.distance)
        # Only the valid bits are reset; the rest of the bookkeeping is data they qualify.
        ctl_lanes = delay(m, ctl, cfg.distance_latency, "ctl")
        ctl_valid = delay(m, seq.busy, cfg.distance_latency, "valid", reset=True)

        if cfg.top_k > 1:
            return nearest_result(m, cfg, lanes, ctl_lanes, ctl_valid)
        tree = m.submodules.winner = WinnerTree(cfg)
        for p in range(P):
            m.d.comb += [tree.candidates[p].valid.eq(ctl_valid & ctl_lanes.active[p]),
                         tree.candidates[p].distance.eq(lanes[p])]
        ctl_win = delay(m, ctl_lanes, cfg.winner_latency, "ctl_win")
        win_valid = delay(m, ctl_valid, cfg.winner_latency, "win_valid", reset=True)
        winner = tree.winner
        if cfg.distances:
            round_distances = [delay(m, d, cfg.winner_latency, f"lane{p}_distance")
                               for p, d in enumerate(lanes)]

        # -- the result of each vector --
        result = Signal(result_layout(cfg), reset_less=True)
        result_valid = Signal()
        if C == 1:
            m.d.comb += [result.index.eq(winner.lane), result.distance.eq(winner.distance),
                         result_valid.eq(win_valid)]
            if cfg.distances:
                m.d.comb += [result.distances[j].eq(round_distances[j]) for j in range(M)]
        else:
            best = Signal(data.StructLayout({"index": unsigned(cfg.index_width),
                                             "distance": unsigned(cfg.distance_width)}),
                          reset_less=True)
            index = Signal(cfg.index_width)
            take = Signal()
            m.d.comb += [
                index.eq(ctl_win.base + winner.lane),
                # Rounds come in index order, so a later round wins only if strictly nearer.
                take.eq(ctl_win.first | (winner.valid & (winner.distance < best.distance))),
            ]
            nearest_index = Mux(take, index, best.index)
            nearest_distance = Mux(take, winner.distance, best.distance)
            m.d.sync += result_valid.eq(win_valid & ctl_win.last)
            with m.If(win_valid):
                m.d.sync += [best.index.eq(nearest_index), best.distance.eq(nearest_distance),
                             result.index.eq(nearest_index),
                             result.distance.eq(nearest_distance)]
            if cfg.distances:
                # The earlier rounds' distances wait in a shift register of C - 1 slots.
                held = [Signal(data.ArrayLayout(unsigned(cfg.distance_width), P),
                               name=f"held_round{k}", reset_less=True) for k in range(C - 1)]
                now = Cat(*round_distances)
                with m.If(win_valid):
                    for k in range(C - 1):
                        m.d.sync += held[k].eq(held[k + 1] if k + 1 < C - 1 else now)
                    m.d.sync += result.distances.eq(Cat(*held, now)[:M * cfg.distance_width])
        return result, result_valid

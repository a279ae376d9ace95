"""The MAD vector-quantizer core: distance units, winner-take-all, codebook, sequencing.

Microarchitecture (cycle numbers count from the cycle ``a`` in which a vector transfers):

* ``a+1``: the vector sits in the input register for ``rounds = ceil(M/P)`` cycles. In round
  ``r`` the P distance units see templates ``r*P .. r*P+P-1`` (the codebook is read in the
  same cycle; see :class:`Codebook`).
* Each :class:`DistanceUnit` registers N absolute differences, then sums them in a registered
  adder tree: ``1 + ceil(log2 N)`` cycles.
* A :class:`WinnerTree` picks the round's nearest active template in ``ceil(log2 P)``
  registered levels. With P < M, a running minimum over the rounds adds one cycle after the
  last round.
* The result enters a two-cycle result queue that also absorbs output back-pressure.

Flow control is by credit: the datapath never stalls (no enable fans out to thousands of
registers); a vector is accepted only while the result queue is sure to have room for its
result, counting every result still in flight. The queue depth is chosen so that this never
throttles a consumer that is always ready. Everything else follows from
:class:`~madvq.hdl.config.CoreConfig`, whose ``latency_cycles`` is the sum above.
"""

from amaranth.hdl import Module, Signal, Mux, Cat, Const, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import CoreConfig
from .layouts import vector_layout, codebook_layout, result_layout


__all__ = ["DistanceUnit", "WinnerTree", "Codebook", "MADCore"]


def _check_config(config):
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {config!r}")


def _delay(m, value, cycles, name, *, reset=False):
    """``value`` delayed by ``cycles`` registers (without reset unless asked: datapath
    registers need none, which keeps reset fan-out to the few valid bits)."""
    for k in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{k + 1}", reset_less=not reset)
        m.d.sync += reg.eq(value)
        value = reg
    return value


class DistanceUnit(wiring.Component):
    """Distance of one vector from one template: ``sum_i |vector[i] - template[i]|``.

    Exact, in ``config.distance_width`` bits. Latency ``config.distance_latency`` cycles
    (one absolute-difference stage, then one stage per adder-tree level); accepts a new pair
    every cycle. There is no handshake: the unit runs freely and its user tracks validity.

    The absolute difference ``|d|`` of a leaf is formed as ``(d ^ s) + s`` with ``s`` the sign
    of ``d``; the ``+ s`` rides into the carry input of an adder higher up the tree instead of
    costing an incrementer per leaf. N - 1 adders have room for N - 1 such bits, so leaf 0
    completes its own absolute value.
    """

    def __init__(self, config):
        _check_config(config)
        self._config = config
        super().__init__({
            "vector": In(vector_layout(config)),
            "template": In(vector_layout(config)),
            "distance": Out(config.distance_width),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        cfg = self._config
        W = cfg.width
        value_max = (1 << W) - 1
        m = Module()

        # A node is (registered sum, leaves below it, registered carry bits not yet added).
        nodes = []
        for i in range(cfg.dims):
            diff = Signal(unsigned(W + 1), name=f"diff{i}")
            m.d.comb += diff.eq(self.vector[i] - self.template[i])
            sign = diff[W]
            flipped = diff[:W] ^ sign.replicate(W)
            absd = Signal(W, name=f"absd{i}", reset_less=True)
            if i == 0:
                m.d.sync += absd.eq(flipped + sign)
                carries = []
            else:
                m.d.sync += absd.eq(flipped)
                carry = Signal(name=f"absd{i}_carry", reset_less=True)
                m.d.sync += carry.eq(sign)
                carries = [carry]
            nodes.append((absd, 1, carries))

        level = 0
        while len(nodes) > 1:
            level += 1
            pairs = [nodes[k:k + 2] for k in range(0, len(nodes), 2)]
            nodes = []
            for k, pair in enumerate(pairs):
                name = f"sum{level}_{k}"
                if len(pair) == 1:          # odd node out: register it to stay aligned
                    value, leaves, carries = pair[0]
                    reg = Signal.like(value, name=name, reset_less=True)
                    m.d.sync += reg.eq(value)
                else:
                    (a, la, ca), (b, lb, cb) = pair
                    leaves = la + lb
                    carries = ca + cb
                    reg = Signal((leaves * value_max).bit_length(), name=name, reset_less=True)
                    if carries:
                        m.d.sync += reg.eq(a + b + carries.pop(0))
                    else:
                        m.d.sync += reg.eq(a + b)
                carries = [_delay(m, c, 1, f"{name}_carry{j}") for j, c in enumerate(carries)]
                nodes.append((reg, leaves, carries))

        root, _, carries = nodes[0]
        assert not carries and level == cfg.tree_levels
        m.d.comb += self.distance.eq(root)
        return m


def candidate_layout(config):
    return data.StructLayout({"valid": 1, "distance": unsigned(config.distance_width)})


def winner_layout(config):
    return data.StructLayout({
        "valid": 1,
        "distance": unsigned(config.distance_width),
        "lane": unsigned(config.lane_width),
    })


class WinnerTree(wiring.Component):
    """Winner-take-all over P candidates: the valid candidate with the smallest distance,
    ties to the lowest lane (as ``numpy.argmin``).

    Latency ``config.argmin_levels`` cycles (one registered comparison level per halving;
    zero when P = 1); accepts new candidates every cycle, no handshake.
    """

    def __init__(self, config):
        _check_config(config)
        self._config = config
        super().__init__({
            "candidates": In(data.ArrayLayout(candidate_layout(config),
                                              config.templates_per_cycle)),
            "winner": Out(winner_layout(config)),
        })

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        nodes = [(c.valid, c.distance, Const(p, cfg.lane_width))
                 for p, c in enumerate(self.candidates)]
        level = 0
        while len(nodes) > 1:
            level += 1
            pairs = [nodes[k:k + 2] for k in range(0, len(nodes), 2)]
            nodes = []
            for k, pair in enumerate(pairs):
                out = Signal(winner_layout(cfg), name=f"win{level}_{k}")
                if len(pair) == 1:
                    valid, dist, lane = pair[0]
                    m.d.sync += [out.valid.eq(valid), out.distance.eq(dist), out.lane.eq(lane)]
                else:
                    (va, da, la), (vb, db, lb) = pair
                    # The right (higher) lane wins only if strictly nearer: ties go left.
                    right = Signal(name=f"win{level}_{k}_right")
                    m.d.comb += right.eq(vb & (~va | (db < da)))
                    m.d.sync += [
                        out.valid.eq(va | vb),
                        out.distance.eq(Mux(right, db, da)),
                        out.lane.eq(Mux(right, lb, la)),
                    ]
                nodes.append((out.valid, out.distance, out.lane))
        assert level == cfg.argmin_levels
        valid, dist, lane = nodes[0]
        m.d.comb += [self.winner.valid.eq(valid), self.winner.distance.eq(dist),
                     self.winner.lane.eq(lane)]
        return m


class Codebook(wiring.Component):
    """The stored templates, written one whole template at a time and read P per round.

    Template ``j`` belongs to lane ``j % P``, slot ``j // P``. ``templates[p]`` presents,
    in each cycle of a vector's round ``r``, the template ``r*P + p``.

    * ``registers``: each lane keeps its slots in a ring of registers that turns once per
      round and is back at its home position after the last round, so no read multiplexer is
      needed (with P = M each lane is a single register).
    * ``ram``: each lane is a synchronous-read memory of ``rounds`` words; the read of round
      ``r`` is issued one cycle early (``next_round``).

    A write (``write_en``) must not arrive while a vector is between its first and its last
    round; the core's sequencer guarantees this. A write to an index >= M is ignored.
    """

    def __init__(self, config):
        _check_config(config)
        self._config = config
        super().__init__({
            "write_en": In(1),
            "write": In(codebook_layout(config)),
            "turn": In(1),            # a round has been read: move to the next one
            "next_round": In(range(config.rounds)),   # ram: the round presented next cycle
            "templates": Out(data.ArrayLayout(vector_layout(config),
                                              config.templates_per_cycle)),
        })

    def elaborate(self, platform):
        cfg = self._config
        P, C, M = cfg.templates_per_cycle, cfg.rounds, cfg.templates
        m = Module()

        if cfg.codebook_storage == "registers":
            for p in range(P):
                ring = [Signal(vector_layout(cfg), name=f"lane{p}_slot{k}", reset_less=True)
                        for k in range(C)]
                for k, slot in enumerate(ring):
                    j = k * P + p
                    hit = Const(0) if j >= M else self.write_en & (self.write.index == j)
                    with m.If(hit):
                        m.d.sync += slot.eq(self.write.template)
                    if C > 1:
                        with m.Elif(self.turn):
                            m.d.sync += slot.eq(ring[(k + 1) % C])
                m.d.comb += self.templates[p].eq(ring[0])
        else:
            lane = Signal(range(P))
            slot = Signal(range(C))
            known = Signal()
            with m.Switch(self.write.index):
                for j in range(M):
                    with m.Case(j):
                        m.d.comb += [lane.eq(j % P), slot.eq(j // P), known.eq(1)]
            for p in range(P):
                mem = memory.Memory(shape=vector_layout(cfg), depth=C, init=[])
                m.submodules[f"lane{p}"] = mem
                wr = mem.write_port()
                rd = mem.read_port()
                m.d.comb += [
                    wr.addr.eq(slot),
                    wr.data.eq(self.write.template),
                    wr.en.eq(self.write_en & known & (lane == p)),
                    rd.addr.eq(self.next_round),
                    self.templates[p].eq(rd.data),
                ]
        return m


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
    Pending ``codebook`` or ``active`` writes take precedence over new vectors; a codebook
    write waits for a vector that is part-way through its rounds.

    Latency ``config.latency_cycles``; one vector every ``config.cycles_per_vector`` cycles
    while the result stream is ready.
    """

    def __init__(self, config):
        _check_config(config)
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
        P, C, M = cfg.templates_per_cycle, cfg.rounds, cfg.templates
        m = Module()

        # -- configuration state --
        active = Signal(range(M + 1), init=M)
        m.d.comb += self.active.ready.eq(1)
        with m.If(self.active.valid & (self.active.p >= 1) & (self.active.p <= M)):
            m.d.sync += active.eq(self.active.p)

        # -- credit: results in flight or queued --
        depth = cfg.result_queue_depth
        queue = m.submodules.queue = fifo.SyncFIFOBuffered(
            width=result_layout(cfg).size, depth=depth)
        outstanding = Signal(range(depth + 1))
        delivered = self.result.valid & self.result.ready

        # -- sequencer: the input register and its rounds --
        busy = Signal()                          # the input register holds a vector
        rnd = Signal(range(C))
        base = Signal(cfg.index_width)           # index of lane 0's template this round
        last = Signal()
        m.d.comb += last.eq(busy & (rnd == C - 1))
        vec = Signal(vector_layout(cfg), reset_less=True)
        vec_active = Signal(range(M + 1), reset_less=True)

        config_pending = self.codebook.valid | self.active.valid
        m.d.comb += [
            self.vector.ready.eq((~busy | last) & (outstanding < depth) & ~config_pending),
            self.codebook.ready.eq(~busy | last),
        ]
        accept = self.vector.valid & self.vector.ready

        with m.If(accept):
            m.d.sync += [busy.eq(1), rnd.eq(0), base.eq(0),
                         vec.eq(self.vector.p), vec_active.eq(active)]
        with m.Elif(last):
            m.d.sync += busy.eq(0)
        with m.Elif(busy):
            m.d.sync += [rnd.eq(rnd + 1), base.eq(base + P)]

        with m.If(accept & ~delivered):
            m.d.sync += outstanding.eq(outstanding + 1)
        with m.Elif(delivered & ~accept):
            m.d.sync += outstanding.eq(outstanding - 1)

        # -- codebook --
        book = m.submodules.codebook = Codebook(cfg)
        m.d.comb += [
            book.write_en.eq(self.codebook.valid & self.codebook.ready),
            book.write.eq(self.codebook.p),
            book.turn.eq(busy),
            book.next_round.eq(Mux(accept, 0, rnd + 1)),
        ]

        # -- distance units, with the round's bookkeeping travelling alongside --
        ctl_layout = data.StructLayout({
            "first": 1, "last": 1,
            "base": unsigned(cfg.index_width),
            "active": unsigned(P),        # lane p's template competes
        })
        ctl = Signal(ctl_layout)
        m.d.comb += [ctl.first.eq(rnd == 0), ctl.last.eq(rnd == C - 1), ctl.base.eq(base)]
        for p in range(P):
            m.d.comb += ctl.active[p].eq(base + p < vec_active)

        lanes = []
        for p in range(P):
            unit = m.submodules[f"unit{p}"] = DistanceUnit(cfg)
            m.d.comb += [unit.vector.eq(vec), unit.template.eq(book.templates[p])]
            lanes.append(unit.distance)
        # Only the valid bits are reset; the rest of the bookkeeping is data they qualify.
        ctl_lanes = _delay(m, ctl, cfg.distance_latency, "ctl")
        ctl_valid = _delay(m, busy, cfg.distance_latency, "valid", reset=True)

        tree = m.submodules.winner = WinnerTree(cfg)
        for p in range(P):
            m.d.comb += [tree.candidates[p].valid.eq(ctl_valid & ctl_lanes.active[p]),
                         tree.candidates[p].distance.eq(lanes[p])]
        ctl_win = _delay(m, ctl_lanes, cfg.argmin_levels, "ctl_win")
        win_valid = _delay(m, ctl_valid, cfg.argmin_levels, "win_valid", reset=True)
        winner = tree.winner
        if cfg.distances:
            round_distances = [_delay(m, d, cfg.argmin_levels, f"lane{p}_distance")
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

        m.d.comb += [
            queue.w_en.eq(result_valid),
            queue.w_data.eq(result),
            self.result.valid.eq(queue.r_rdy),
            self.result.payload.eq(queue.r_data),
            queue.r_en.eq(self.result.ready),
        ]
        return m

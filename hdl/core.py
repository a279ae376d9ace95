"""The MAD vector-quantizer core: distance units, winner-take-all, codebook, sequencing.

Microarchitecture (cycle numbers count from the cycle ``a`` in which a vector transfers):

* The vector reaches the distance units after ``config.input_latency`` cycles: through the
  input register, where it stays for ``rounds = ceil(M/P)`` cycles; with P = M through a
  staging register and one copy of the input register per distance unit. In round ``r`` the
  P distance units see templates ``r*P .. r*P+P-1`` (see :class:`Codebook`).
* Each :class:`DistanceUnit` computes its distance in ``config.distance_latency`` registered
  stages (N absolute differences, an adder tree, a last stage).
* A :class:`WinnerTree` picks the round's nearest active template in
  ``config.winner_latency`` cycles. With P < M, a running minimum over the rounds adds one
  cycle after the last round.
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

from amaranth.hdl import Module, Signal, Mux, Cat, Const, unsigned
from amaranth.lib import data, fifo, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .config import CoreConfig
from .layouts import vector_layout, codebook_layout, result_layout
from .carry import Adder, Half, build_chains, register_copy
from .ecp5 import sign_tracking_distance


__all__ = ["DistanceUnit", "WinnerTree", "Codebook", "result_queue", "MADCore"]


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
    (an absolute-difference stage, one stage per adder-tree level, a last carry stage);
    accepts a new pair every cycle. There is no handshake: the unit runs freely and its user
    tracks validity.

    The absolute difference ``|d|`` of a leaf is formed as ``(d ^ s) + s`` with ``s`` the sign
    of ``d``; the ``+ s`` rides into the carry input of an adder higher up the tree instead of
    costing an incrementer per leaf (on an iCE40, a leaf's subtraction and complement share
    one LUT per bit). N - 1 adders have room for N - 1 such bits; the last one is added to
    the root in a stage of its own, so that no stage holds two carry chains one after the
    other. With ``ecp5`` arithmetic the unit is a sign-tracking tree of carry cells instead
    (see :mod:`madvq.hdl.ecp5`).
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
        if cfg.arithmetic == "ecp5":
            sign_tracking_distance(m, cfg, self.vector, self.template, self.distance)
            return m

        # A node is (registered sum, leaves below it, registered carry bits not yet added).
        nodes = []
        for i in range(cfg.dims):
            diff = Signal(unsigned(W + 1), name=f"diff{i}")
            m.d.comb += diff.eq(self.vector[i] - self.template[i])
            sign = diff[W]
            absd = Signal(W, name=f"absd{i}", reset_less=True)
            m.d.sync += absd.eq(diff[:W] ^ sign.replicate(W))
            carry = Signal(name=f"absd{i}_carry", reset_less=True)
            m.d.sync += carry.eq(sign)
            nodes.append((absd, 1, [carry]))

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

        # The last carry, added in a stage of its own.
        root, _, carries = nodes[0]
        assert len(carries) == 1 and level == cfg.tree_levels
        distance = Signal(cfg.distance_width, name="distance", reset_less=True)
        m.d.sync += distance.eq(root + carries[0])
        m.d.comb += self.distance.eq(distance)
        return m


def _right_wins(va, da, vb, db):
    """An adder whose last half's sum says that candidate b beats candidate a: the keys
    (not valid, distance) compare a > b, the carry out of ``key_a + ~key_b``."""
    halves = [Half(a=da[j], b=db[j], propagate=lambda x, y, c: x ^ y ^ 1,
                   generate=lambda x, y: x) for j in range(len(da))]
    # The keys' top bits are the complemented valid flags: only the generate changes.
    halves.append(Half(a=va, b=vb, propagate=lambda x, y, c: x ^ y ^ 1,
                       generate=lambda x, y: 1 - x))
    return Adder(halves + [Half()], 0)


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

    Latency ``config.winner_latency`` cycles: one registered comparison level per halving
    (zero when P = 1), two cycles each with ``ecp5`` arithmetic, whose comparisons are carry
    chains registered before their multiplexers; accepts new candidates every cycle, no
    handshake.
    """

    # With ecp5 arithmetic, each registered comparison result selects this many bits.
    BITS_PER_SELECT = 4

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
        if cfg.arithmetic == "ecp5" and len(nodes) > 1:
            # The candidates come from distance units spread over the chip: one register
            # stage lets the placer split those long wires.
            nodes = [(_delay(m, v, 1, f"cand{p}_valid"), _delay(m, d, 1, f"cand{p}_distance"),
                      lane) for p, (v, d, lane) in enumerate(nodes)]
        comparators = []
        level = 0
        while len(nodes) > 1:
            level += 1
            pairs = [nodes[k:k + 2] for k in range(0, len(nodes), 2)]
            nodes = []
            for k, pair in enumerate(pairs):
                out = Signal(winner_layout(cfg), name=f"win{level}_{k}")
                if len(pair) == 1:     # odd node out: delayed to stay aligned
                    valid, dist, lane = pair[0]
                    if cfg.arithmetic == "ecp5":
                        valid, dist, lane = (_delay(m, x, 1, f"win{level}_{k}_{n}")
                                             for x, n in ((valid, "v"), (dist, "d"),
                                                          (lane, "l")))
                    m.d.sync += [out.valid.eq(valid), out.distance.eq(dist), out.lane.eq(lane)]
                else:
                    (va, da, la), (vb, db, lb) = pair
                    # The right (higher) lane wins only if strictly nearer: ties go left.
                    # As keys (not valid, distance): the right wins if the left key is larger.
                    if cfg.arithmetic == "ecp5":
                        # The comparison is registered straight out of its carry chain, in
                        # one copy per few bits it selects, and the candidates wait beside
                        # it: a level takes two cycles.
                        compare = _right_wins(va, da, vb, db)
                        va, da, la, vb, db, lb = (
                            _delay(m, x, 1, f"win{level}_{k}_{n}")
                            for x, n in ((va, "va"), (da, "da"), (la, "la"),
                                         (vb, "vb"), (db, "db"), (lb, "lb")))
                        comparators.append((compare, f"win{level}_{k}", out, (va, da, la),
                                            (vb, db, lb)))
                    else:
                        right = Signal(name=f"win{level}_{k}_right")
                        m.d.comb += right.eq(vb & (~va | (db < da)))
                        m.d.sync += [
                            out.valid.eq(va | vb),
                            out.distance.eq(Mux(right, db, da)),
                            out.lane.eq(Mux(right, lb, la)),
                        ]
                nodes.append((out.valid, out.distance, out.lane))
        assert level == cfg.argmin_levels
        if comparators:
            # One chain per comparison: its inputs come from across the chip already.
            build_chains(m, "cmp", [c[0] for c in comparators], max_halves=3)
            for adder, name, out, (va, da, la), (vb, db, lb) in comparators:
                left, right = Cat(va, da, la), Cat(vb, db, lb)
                result = Cat(out.valid, out.distance, out.lane)
                for g in range(0, len(result), self.BITS_PER_SELECT):
                    select = register_copy(m, adder.halves[-1].sum, f"{name}_right{g}",
                                           platform)
                    bits = slice(g, g + self.BITS_PER_SELECT)
                    m.d.sync += result[bits].eq(Mux(select, right[bits], left[bits]))
                # Valid: either candidate.
                m.d.sync += out.valid.eq(va | vb)
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
    * ``ram``: each lane (the first ``config.ram_lanes`` of them; the others are rings) is a
      synchronous-read memory of ``rounds`` words; the read of round ``r`` is issued one
      cycle early (``next_round``).

    A write (``write_en``) must not arrive while a vector is between its first and its last
    round; the core's sequencer guarantees this. A write to an index >= M is ignored. It
    shows in ``templates`` the next cycle, except with registers and P = M, where it is
    registered and then copied beside each template first: three cycles later.
    """

    # With P = M, one copy of the template being written serves this many templates.
    LANES_PER_WRITE_COPY = 4

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

        if cfg.codebook_storage == "registers" and C == 1:
            # Every template has its own register beside its distance unit. A write is
            # decoded into one enable per template as it is registered; then the enables,
            # and copies of the template for each group of templates, are registered beside
            # the templates: it lands two cycles after it is presented, and no decoder or
            # enable has to reach across the chip.
            hits = Signal(M, name="write_hit")
            for p in range(M):
                m.d.comb += hits[p].eq(self.write_en & (self.write.index == p))
            hits = _delay(m, hits, 1, "write_hit", reset=True)
            template = _delay(m, self.write.template.as_value(), 1, "write_template")
            copies = {}
            for p in range(P):
                group = p // self.LANES_PER_WRITE_COPY
                if group not in copies:
                    copies[group] = register_copy(m, template, f"write_copy{group}", platform)
                slot = Signal(vector_layout(cfg), name=f"lane{p}_slot0", reset_less=True)
                data = vector_layout(cfg)(copies[group])
                for i in range(cfg.dims):
                    # One enable per value: the template's bits sit beside the leaves of
                    # the distance unit that reads them, spread over the unit.
                    hit = register_copy(m, hits[p], f"lane{p}_hit{i}", platform)
                    with m.If(hit):
                        m.d.sync += slot[i].eq(data[i])
                m.d.comb += self.templates[p].eq(slot)
        else:
            ram_lanes = cfg.ram_lanes if cfg.codebook_storage == "ram" else 0
            for p in range(ram_lanes, P):
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
            if ram_lanes:
                lane = Signal(range(P))
                slot = Signal(range(C))
                known = Signal()
                with m.Switch(self.write.index):
                    for j in range(M):
                        with m.Case(j):
                            m.d.comb += [lane.eq(j % P), slot.eq(j // P), known.eq(1)]
            for p in range(ram_lanes):
                # Even a few words deep: block RAM is where the bandwidth is.
                mem = memory.Memory(shape=vector_layout(cfg), depth=C, init=[],
                                    attrs={"ram_style": "block"})
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

        # -- configuration state: the active count m as a mask of the templates that compete,
        # decoded (in a stage of its own) from a registered copy of the write, so the datapath
        # only selects bits of it; a vector waits out the cycles in which the mask changes. --
        active = Signal(M, init=(1 << M) - 1)
        m.d.comb += self.active.ready.eq(1)
        active_write = _delay(m, self.active.valid, 1, "active_write", reset=True)
        active_count = _delay(m, self.active.p, 1, "active_count")
        decoded = Signal(M, name="active_decoded", reset_less=True)
        decoded_valid = Signal(name="active_decoded_valid")
        # Each mask bit is a function of the count alone (a small LUT tree); counts outside
        # 1..M are not applied.
        for j in range(M):
            m.d.sync += decoded[j].eq(active_count > j)
        m.d.sync += decoded_valid.eq(active_write & (active_count != 0) & (active_count <= M))
        with m.If(decoded_valid):
            m.d.sync += active.eq(decoded)

        # -- credit: results in flight or queued --
        depth = cfg.result_queue_depth
        queue = m.submodules.queue = result_queue(cfg)
        outstanding = Signal(range(depth + 1))
        # No credit left: kept as a register beside the count so that ``ready`` does not
        # wait for a comparison.
        full = Signal()
        delivered = self.result.valid & self.result.ready

        # -- sequencer: the input register and its rounds --
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
        config_pending = (self.codebook.valid | self.active.valid | active_write
                          | decoded_valid)
        if C > 1:
            # The write is registered before it reaches the codebook (its decoder and the
            # rings' enables are far from the handshake); a vector waits out that cycle.
            write_en = _delay(m, write_en, 1, "codebook_write_en", reset=True)
            write = _delay(m, write, 1, "codebook_write")
            config_pending = config_pending | write_en
        m.d.comb += [
            self.vector.ready.eq(free & ~full & ~config_pending),
            self.codebook.ready.eq(free),
        ]
        accept = self.vector.valid & self.vector.ready

        # The input register loads whenever it is free, whether a vector transfers or not
        # (``busy`` says which): its enable does not wait for the handshake, and with one
        # round per vector it needs none at all.
        if C == 1:
            m.d.comb += [last.eq(busy), free.eq(1)]
            # One vector per clock drives all M distance units: the vector goes through a
            # staging register into one copy of the input register per unit, each placed
            # beside its unit, instead of one register reaching across the whole chip. A
            # codebook write takes two cycles more (see Codebook), so each vector still sees
            # the codebook as it stood when it transferred.
            staged = Signal(vector_layout(cfg), name="vector_staged", reset_less=True)
            staged_valid = Signal()
            m.d.sync += [staged.eq(self.vector.p), staged_valid.eq(accept),
                         busy.eq(staged_valid), vec_active.eq(active)]
            vecs = [vector_layout(cfg)(register_copy(m, staged.as_value(), f"vec{p}",
                                                     platform))
                    for p in range(P)]
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

        # A delivery frees its credit a cycle later (the output handshake stays off this
        # counter's path); one adder for both directions: + 1, - 1 (all ones) or + 0.
        freed = _delay(m, delivered, 1, "delivered", reset=True)
        up = accept & ~freed
        down = freed & ~accept
        m.d.sync += outstanding.eq(outstanding + Cat(up | down,
                                                     down.replicate(len(outstanding) - 1)))
        with m.If(up):
            m.d.sync += full.eq(outstanding == depth - 1)
        with m.Elif(down):
            m.d.sync += full.eq(0)

        # -- codebook --
        book = m.submodules.codebook = Codebook(cfg)
        m.d.comb += [
            book.write_en.eq(write_en),
            book.write.eq(write),
            book.turn.eq(busy),
            book.next_round.eq(Mux(free, 0, rnd + 1)),
        ]

        # -- distance units, with the round's bookkeeping travelling alongside --
        ctl_layout = data.StructLayout({
            "first": 1, "last": 1,
            "base": unsigned(cfg.index_width),
            "active": unsigned(P),        # lane p's template competes
        })
        ctl = Signal(ctl_layout)
        m.d.comb += [ctl.first.eq(rnd == 0), ctl.last.eq(rnd == C - 1), ctl.base.eq(base)]
        m.d.comb += ctl.active.eq(vec_active[:P])

        lanes = []
        for p in range(P):
            unit = m.submodules[f"unit{p}"] = DistanceUnit(cfg)
            m.d.comb += [unit.vector.eq(vecs[p]), unit.template.eq(book.templates[p])]
            lanes.append(unit.distance)
        # Only the valid bits are reset; the rest of the bookkeeping is data they qualify.
        ctl_lanes = _delay(m, ctl, cfg.distance_latency, "ctl")
        ctl_valid = _delay(m, busy, cfg.distance_latency, "valid", reset=True)

        tree = m.submodules.winner = WinnerTree(cfg)
        for p in range(P):
            m.d.comb += [tree.candidates[p].valid.eq(ctl_valid & ctl_lanes.active[p]),
                         tree.candidates[p].distance.eq(lanes[p])]
        ctl_win = _delay(m, ctl_lanes, cfg.winner_latency, "ctl_win")
        win_valid = _delay(m, ctl_valid, cfg.winner_latency, "win_valid", reset=True)
        winner = tree.winner
        if cfg.distances:
            round_distances = [_delay(m, d, cfg.winner_latency, f"lane{p}_distance")
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

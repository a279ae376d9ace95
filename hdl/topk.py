"""The K nearest templates (``top_k`` > 1): a selection tree of sorted-list merges.

A core with ``top_k`` = K > 1 replaces the winner-take-all (:mod:`.winner`) by
:class:`TopKTree`, and the running minimum of P < M cores by a running merge of K-lists
(:func:`nearest_result`). Both are built from one operation, :func:`merge`: the best
``keep`` entries of two lists that are each sorted by key, ties to the left list.

Keys and ties. An entry's key is (not valid, distance), compared as one unsigned number, so
an inactive entry is greater than any active one. Equal keys go to the entry on the left
(the lower lane, or an earlier round): lanes and rounds come in template-index order, so
this is "ties to the lower index" without comparing indices.

How a merge selects. With ``le[i][j]`` = (key of left[i] <= key of right[j]) and both lists
sorted, left[i] lands in output slot ``i + #(right entries < left[i])`` and right[j] in
``j + #(left entries <= right[j])`` (a stable merge). Because ``le[i][.]`` is monotone in j,
"``#(right < left[i]) == c``" is the two-bit test ``not le[i][c-1] and le[i][c]``: each
slot is an AND-OR of the at most ``2 (s + 1)`` entries that can land in slot s, no adders,
and only the ``le[i][j]`` with ``i + j < keep`` are needed (at most ``K (K + 1) / 2``
comparators per merge).

Latency. :class:`TopKTree` merges pairs of lists level by level, ``ceil(log2 P)`` levels,
two registered stages per level (the comparisons, then the selection):
``config.winner_latency = 2 ceil(log2 P)``. The running merge of P < M cores compares and
selects in the one cycle of its feedback loop, as the single-winner core's running minimum
does (``config.accumulate_latency`` = 1). Full throughput: no stage waits for another.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from .config import check_config
from .layouts import candidate_layout, result_layout
from .registers import delay
from .trees import in_pairs


__all__ = ["TopKTree", "merge", "nearest_result", "slot_layout"]


def slot_layout(config):
    """One entry of a round's K-list: valid, distance and lane (distance unit)."""
    return data.StructLayout({
        "valid": 1,
        "distance": unsigned(config.distance_width),
        "lane": unsigned(config.lane_width),
    })


def _key(entry, key_width):
    return entry[:key_width]


def compare(m, left, right, keep, key_width, name, *, registered):
    """``{(i, j): key(left[i]) <= key(right[j])}`` for ``i + j < keep``; each a register
    when ``registered``."""
    le = {}
    for i, a in enumerate(left):
        for j, b in enumerate(right):
            if i + j >= keep:
                continue
            bit = Signal(name=f"{name}_le{i}_{j}")
            domain = m.d.sync if registered else m.d.comb
            domain += bit.eq(_key(a, key_width) <= _key(b, key_width))
            le[i, j] = bit
    return le


def select(left, right, keep, le):
    """The ``keep`` best entries (as values) of ``left`` and ``right`` given their
    comparisons ``le`` (see the module's description)."""
    out = []
    for s in range(min(keep, len(left) + len(right))):
        terms = []
        for i, a in enumerate(left):
            c = s - i                    # right entries that must come before left[i]
            if not 0 <= c <= len(right):
                continue
            cond = []
            if c > 0:
                cond.append(~le[i, c - 1])
            if c < len(right):
                cond.append(le[i, c])
            terms.append((cond, a))
        for j, b in enumerate(right):
            c = s - j                    # left entries that must come before right[j]
            if not 0 <= c <= len(left):
                continue
            cond = []
            if c > 0:
                cond.append(le[c - 1, j])
            if c < len(left):
                cond.append(~le[c, j])
            terms.append((cond, b))
        value = 0
        for cond, entry in terms:
            hit = Const(1) if not cond else cond[0] if len(cond) == 1 else cond[0] & cond[1]
            value = value | (entry & hit.replicate(len(entry)))
        out.append(value)
    return out


def merge(m, left, right, keep, key_width, name):
    """The best ``keep`` entries of sorted lists ``left`` and ``right`` (values whose low
    ``key_width`` bits are the key), ties to ``left``: combinational."""
    return select(left, right, keep, compare(m, left, right, keep, key_width, name,
                                             registered=False))


class TopKTree(wiring.Component):
    """The min(K, P) nearest of P candidates, sorted by distance, ties to the lowest lane;
    inactive candidates (``valid`` low) come after every active one.

    Latency ``config.winner_latency`` = 2 ceil(log2 P) cycles; accepts new candidates every
    cycle, no handshake.
    """

    def __init__(self, config):
        check_config(config)
        self._config = config
        P = config.templates_per_cycle
        super().__init__({
            "candidates": In(data.ArrayLayout(candidate_layout(config), P)),
            "nearest": wiring.Out(data.ArrayLayout(slot_layout(config),
                                                   min(config.top_k, P))),
        })

    def elaborate(self, platform):
        cfg = self._config
        m = Module()
        K, D, LW = cfg.top_k, cfg.distance_width, cfg.lane_width
        kw = D + 1
        # Entries are Cat(distance, not valid, lane): the key in the low bits.
        lists = [[Cat(c.distance, ~c.valid, Const(p, LW))]
                 for p, c in enumerate(self.candidates)]

        def merge(level, k, pair):
            name = f"top{level}_{k}"
            if len(pair) == 1:         # odd list out: delayed to stay aligned
                return [delay(m, e, 2, f"{name}_{s}") for s, e in enumerate(pair[0])]
            left, right = pair
            keep = min(K, len(left) + len(right))
            le = compare(m, left, right, keep, kw, name, registered=True)
            left = [delay(m, e, 1, f"{name}_a{i}") for i, e in enumerate(left)]
            right = [delay(m, e, 1, f"{name}_b{j}") for j, e in enumerate(right)]
            out = []
            for s, value in enumerate(select(left, right, keep, le)):
                entry = Signal(len(left[0]), name=f"{name}_s{s}")
                m.d.sync += entry.eq(value)
                out.append(entry)
            return out

        nearest, level = in_pairs(lists, merge)
        assert level == cfg.argmin_levels
        for s, entry in enumerate(nearest):
            m.d.comb += [self.nearest[s].distance.eq(entry[:D]),
                         self.nearest[s].valid.eq(~entry[D]),
                         self.nearest[s].lane.eq(entry[kw:])]
        return m


def nearest_result(m, cfg, lanes, ctl, valid):
    """The rest of a top-K core's datapath (:class:`~madvq.hdl.core.MADCore` hands over
    here when ``top_k`` > 1): the :class:`TopKTree` over the distance units ``lanes``
    (their round's bookkeeping ``ctl`` and ``valid`` alongside), with P < M the running
    merge over the rounds, and the result with its "none" marker. Returns the result and
    its valid flag, into the result queue."""
    P, C, M, K = cfg.templates_per_cycle, cfg.rounds, cfg.templates, cfg.top_k
    D, IW = cfg.distance_width, cfg.index_width
    tree = m.submodules.nearest = TopKTree(cfg)
    for p in range(P):
        m.d.comb += [tree.candidates[p].valid.eq(valid & ctl.active[p]),
                     tree.candidates[p].distance.eq(lanes[p])]
    ctl_win = delay(m, ctl, cfg.winner_latency, "ctl_win")
    win_valid = delay(m, valid, cfg.winner_latency, "win_valid", reset=True)
    if cfg.distances:
        round_distances = [delay(m, d, cfg.winner_latency, f"lane{p}_distance")
                           for p, d in enumerate(lanes)]

    result = Signal(result_layout(cfg), reset_less=True)
    result_valid = Signal()
    # Entries are Cat(distance, not valid, index); a slot without a template (fewer than K
    # active) reads as index and distance all ones.
    none = Const((1 << (D + 1 + IW)) - 1, D + 1 + IW)
    found = [Cat(s.distance, ~s.valid, s.lane if C == 1 else ctl_win.base + s.lane)[:D + 1 + IW]
             for s in tree.nearest]

    def marked(entries):
        return [result.index[s].eq(Mux(e[D], none[D + 1:], e[D + 1:])) for s, e in
                enumerate(entries)] + [result.distance[s].eq(Mux(e[D], none[:D], e[:D]))
                                       for s, e in enumerate(entries)]

    if C == 1:
        m.d.comb += marked(found)
        m.d.comb += result_valid.eq(win_valid)
        if cfg.distances:
            m.d.comb += [result.distances[j].eq(round_distances[j]) for j in range(M)]
        return result, result_valid

    # The K nearest of the rounds so far; earlier rounds hold lower indices, so they are
    # the left list (ties to them).
    best = [Signal(D + 1 + IW, name=f"best{s}", reset_less=True) for s in range(K)]
    merged = merge(m, best, found, K, D + 1, "running")
    first = found + [none] * (K - len(found))
    nearest = [Signal(D + 1 + IW, name=f"nearest{s}") for s in range(K)]
    m.d.comb += [nearest[s].eq(Mux(ctl_win.first, first[s], merged[s])) for s in range(K)]
    m.d.sync += result_valid.eq(win_valid & ctl_win.last)
    with m.If(win_valid):
        m.d.sync += [b.eq(n) for b, n in zip(best, nearest)]
        m.d.sync += marked(nearest)
    if cfg.distances:
        # The earlier rounds' distances wait in a shift register of C - 1 slots.
        held = [Signal(data.ArrayLayout(unsigned(D), P), name=f"held_round{k}",
                       reset_less=True) for k in range(C - 1)]
        now = Cat(*round_distances)
        with m.If(win_valid):
            for k in range(C - 1):
                m.d.sync += held[k].eq(held[k + 1] if k + 1 < C - 1 else now)
            m.d.sync += result.distances.eq(Cat(*held, now)[:M * D])
    return result, result_valid

"""The winner-take-all: the nearest of P candidate distances, ties to the lowest lane.

:class:`WinnerTree` is a tree of registered pairwise comparisons, ``config.winner_latency``
cycles deep; with ``ecp5`` arithmetic each comparison is a carry chain registered on its own
and the selection follows a cycle later. No handshake: it takes new candidates every cycle.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .config import check_config
from .ecp5_cells import Adder, Half, build_chains
from .layouts import candidate_layout, winner_layout
from .registers import delay, register_copy
from .trees import in_pairs


__all__ = ["WinnerTree"]


def _right_wins(va, da, vb, db, *, never_all_ones):
    """An adder whose carry out says that candidate b beats candidate a: the keys compare
    a > b, the carry out of ``key_a + ~key_b``.

    When a distance is never all ones (``never_all_ones``), an invalid candidate's key is its
    distance with every bit set, ``d | ~valid``: each half reads a bit and a valid flag of
    both candidates (a half with D as a fourth input adds ``f(A, B) + g(C, D)`` with
    ``g(0, 0) = 0``, here ``(da | ~va) + (~db & vb)``), and the comparison is a distance
    wide. Otherwise the keys are (not valid, distance), one bit wider."""
    if never_all_ones:
        halves = [Half(a=da[j], b=va, c=db[j], d=vb,
                       propagate=lambda a, b, c, d: (a | (1 - b)) ^ ((1 - c) & d),
                       generate=lambda a, b: a | (1 - b)) for j in range(len(da))]
        return Adder(halves, 0)
    halves = [Half(a=da[j], b=db[j], propagate=lambda x, y, c: x ^ y ^ 1,
                   generate=lambda x, y: x) for j in range(len(da))]
    # The keys' top bits are the complemented valid flags: only the generate changes.
    halves.append(Half(a=va, b=vb, propagate=lambda x, y, c: x ^ y ^ 1,
                       generate=lambda x, y: 1 - x))
    return Adder(halves, 0)


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
        check_config(config)
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
            nodes = [(delay(m, v, 1, f"cand{p}_valid"), delay(m, d, 1, f"cand{p}_distance"),
                      lane) for p, (v, d, lane) in enumerate(nodes)]
        comparators = []

        def combine(level, k, pair):
            out = Signal(winner_layout(cfg), name=f"win{level}_{k}")
            if len(pair) == 1:     # odd node out: delayed to stay aligned
                valid, dist, lane = pair[0]
                if cfg.arithmetic == "ecp5":
                    valid, dist, lane = (delay(m, x, 1, f"win{level}_{k}_{n}")
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
                    compare = _right_wins(
                        va, da, vb, db,
                        never_all_ones=cfg.distance_max < (1 << cfg.distance_width) - 1)
                    va, da, la, vb, db, lb = (
                        delay(m, x, 1, f"win{level}_{k}_{n}")
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
            return out.valid, out.distance, out.lane

        (valid, dist, lane), level = in_pairs(nodes, combine)
        assert level == cfg.argmin_levels
        if comparators:
            # One chain per comparison: its inputs come from across the chip already.
            build_chains(m, "cmp", [[c[0]] for c in comparators])
            for adder, name, out, (va, da, la), (vb, db, lb) in comparators:
                left, right = Cat(va, da, la), Cat(vb, db, lb)
                result = Cat(out.valid, out.distance, out.lane)
                for g in range(0, len(result), self.BITS_PER_SELECT):
                    select = register_copy(m, adder.carry_out, f"{name}_right{g}",
                                           platform)
                    bits = slice(g, g + self.BITS_PER_SELECT)
                    m.d.sync += result[bits].eq(Mux(select, right[bits], left[bits]))
                # Valid: either candidate.
                m.d.sync += out.valid.eq(va | vb)
        m.d.comb += [self.winner.valid.eq(valid), self.winner.distance.eq(dist),
                     self.winner.lane.eq(lane)]
        return m

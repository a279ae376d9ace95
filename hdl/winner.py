"""The winner-take-all: the nearest of P candidate distances, ties to the lowest lane.

:class:`WinnerTree` takes new candidates every cycle (no handshake) and gives the winner
``config.winner_latency`` cycles later: with ``generic`` arithmetic through a tree of
registered pairwise comparisons; with ``ecp5`` arithmetic by elimination, one distance bit
per cycle from the most significant, in LUTs alone.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .config import check_config
from .layouts import candidate_layout, winner_layout
from .registers import delay


__all__ = ["WinnerTree"]


class WinnerTree(wiring.Component):
    """Winner-take-all over P candidates: the valid candidate with the smallest distance,
    ties to the lowest lane (as ``numpy.argmin``); ``winner.valid`` says whether any was
    valid.

    Latency ``config.winner_latency`` cycles (zero when P = 1); accepts new candidates every
    cycle, no handshake.

    * ``generic`` arithmetic: one registered comparison level per halving.
    * ``ecp5`` arithmetic: the candidates are registered (they come from distance units
      spread over the chip: the register lets the placer split those wires); then, for each
      distance bit from the most significant, one cycle keeps, among the candidates still
      in, those with a 0 there if any has one (that bit of the minimum is 0) and all of them
      otherwise (it is 1); a last cycle picks the lowest lane still in. There is no
      comparator and no multiplexer of distances: the minimum's bits are the outcomes of
      the steps. Each step costs about 1.7 LUTs per candidate (the OR of the zeros, and the
      update of each candidate's flag); a tree of carry-chain comparisons and selections
      costs about twice that on an ECP5, feed cells included.
    """

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
        if cfg.templates_per_cycle == 1:
            c = self.candidates[0]
            m.d.comb += [self.winner.valid.eq(c.valid), self.winner.distance.eq(c.distance),
                         self.winner.lane.eq(0)]
        elif cfg.arithmetic == "ecp5":
            self._eliminate(m)
        else:
            self._compare(m)
        return m

    def _eliminate(self, m):
        cfg = self._config
        P, D = cfg.templates_per_cycle, cfg.distance_width
        alive = Signal(P, name="in0")
        bits = [Signal(D, name=f"cand{p}_distance", reset_less=True) for p in range(P)]
        m.d.sync += alive.eq(Cat(c.valid for c in self.candidates))
        m.d.sync += [b.eq(c.distance) for b, c in zip(bits, self.candidates)]
        minimum = Const(0, 0)            # the minimum's bits found so far, low bits last
        for step, k in enumerate(reversed(range(D))):
            zeros = Cat(alive[p] & ~bits[p][k] for p in range(P))
            some = Signal(name=f"step{step}_some_zero")
            m.d.comb += some.eq(zeros.any())
            kept = Signal(P, name=f"in{step + 1}")
            m.d.sync += kept.eq(Mux(some, zeros, alive))
            lower = [Signal(k, name=f"cand{p}_distance{step + 1}", reset_less=True)
                     for p in range(P)]
            m.d.sync += [b.eq(a[:k]) for b, a in zip(lower, bits)]
            found = Signal(D - k, name=f"minimum{step + 1}", reset_less=True)
            m.d.sync += found.eq(Cat(~some, minimum))
            alive, bits, minimum = kept, lower, found
        # The lowest lane still in; none is in only if no candidate was valid.
        lane = Signal(cfg.lane_width)
        for p in reversed(range(P)):
            with m.If(alive[p]):
                m.d.comb += lane.eq(p)
        m.d.sync += [self.winner.valid.eq(alive.any()), self.winner.lane.eq(lane),
                     self.winner.distance.eq(minimum)]
        assert 1 + D + 1 == cfg.winner_latency

    def _compare(self, m):
        cfg = self._config
        nodes = [(c.valid, c.distance, Const(p, cfg.lane_width))
                 for p, c in enumerate(self.candidates)]
        level = 0
        while len(nodes) > 1:
            level += 1
            pairs = [nodes[k:k + 2] for k in range(0, len(nodes), 2)]
            nodes = []
            for k, pair in enumerate(pairs):
                out = Signal(winner_layout(cfg), name=f"win{level}_{k}")
                if len(pair) == 1:     # odd node out: delayed to stay aligned
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

"""The codebook: the stored templates, written one at a time, presented P per round.

:class:`Codebook` keeps the templates in registers (a ring per distance unit that turns
once per round, so no read multiplexer is needed) or in block RAM (a synchronous-read memory
per unit); see the class for the timing of writes.
"""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In, Out

from .config import check_config
from .layouts import codebook_layout, vector_layout
from .registers import delay, register_copy


__all__ = ["Codebook"]


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

    The rings keep their contents across a reset, but a reset in the middle of a vector's
    rounds stops them away from home. So they count their turns in a register that a reset
    leaves alone, and after a reset they keep turning by themselves until they are home;
    ``home`` says that they will be home in the next cycle (with ``turn`` high: that this is
    the last round). The sequencer starts a vector or a write only then. Without rings
    ``home`` is always 1.
    """

    # With P = M, one copy of the template being written serves this many templates.
    LANES_PER_WRITE_COPY = 4

    def __init__(self, config):
        check_config(config)
        self._config = config
        super().__init__({
            "write_en": In(1),
            "write": In(codebook_layout(config)),
            "turn": In(1),            # a round has been read: move to the next one
            "next_round": In(range(config.rounds)),   # ram: the round presented next cycle
            "home": Out(1),           # rings: home next cycle (see above)
            "templates": Out(data.ArrayLayout(vector_layout(config),
                                              config.templates_per_cycle)),
        })

    def elaborate(self, platform):
        cfg = self._config
        P, C, M = cfg.templates_per_cycle, cfg.rounds, cfg.templates
        m = Module()

        if cfg.codebook_storage == "registers" and C == 1:
            m.d.comb += self.home.eq(1)
            # Every template has its own register beside its distance unit. A write is
            # decoded into one enable per template as it is registered; then the enables,
            # and copies of the template for each group of templates, are registered beside
            # the templates: it lands two cycles after it is presented, and no decoder or
            # enable has to reach across the chip.
            hits = Signal(M, name="write_hit")
            for p in range(M):
                m.d.comb += hits[p].eq(self.write_en & (self.write.index == p))
            hits = delay(m, hits, 1, "write_hit", reset=True)
            template = delay(m, self.write.template.as_value(), 1, "write_template")
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
            turning = self.turn
            if C > 1 and ram_lanes < P:
                # Turns since home, mod C: no reset, so that it stays true across one.
                position = Signal(range(C), name="ring_position", reset_less=True)
                away = position != 0
                turning = self.turn | away
                with m.If(turning):
                    m.d.sync += position.eq(Mux(position == C - 1, 0, position + 1))
                m.d.comb += self.home.eq(Mux(self.turn, position == C - 1, ~away))
            else:
                m.d.comb += self.home.eq(1)
            for p in range(ram_lanes, P):
                ring = [Signal(vector_layout(cfg), name=f"lane{p}_slot{k}", reset_less=True)
                        for k in range(C)]
                for k, slot in enumerate(ring):
                    j = k * P + p
                    hit = Const(0) if j >= M else self.write_en & (self.write.index == j)
                    with m.If(hit):
                        m.d.sync += slot.eq(self.write.template)
                    if C > 1:
                        with m.Elif(turning):
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

"""The core behind AXI4-Stream data ports and an AXI4-Lite control port.

:class:`AXIStreamMADCore` wraps :class:`~madvq.hdl.core.MADCore` (in the ``sync`` domain, for
Amaranth designs); :class:`AXIStreamTop` is the same with ``aclk`` and ``aresetn`` ports (what
``madvq generate --bus axis`` exports). Ports, byte layouts and registers are those of
:mod:`madvq.hdl.bus`.

* ``s_axis_vector``: a vector per transfer. Its ``tlast`` and ``tuser`` wait in a side queue
  (:mod:`amaranth.lib.fifo`) and come out with its result. The core accepts a vector only
  while its result queue is sure to hold the result, so at most
  ``result_queue_depth`` vectors are between their transfer and their result's: a side
  queue that deep never overflows, and it never holds back a vector the core would take.
* ``m_axis_result``: the core's result stream, its fields at byte boundaries, through a
  two-entry register slice (full throughput under any ``tready``).
* ``s_axis_codebook``: a template per transfer, ``tdest`` its index.
* ``s_axil``: identification, the active count m, counters and status
  (:func:`~madvq.hdl.bus.register_map`). Write address and data are taken in either order
  or together; one write and one read are handled at a time. A write of ``ACTIVE`` reaches
  the core before its response is given, so a vector transferred after the response sees
  the new m.

Throughput is the core's (one vector every ``cycles_per_vector`` cycles); the result comes
one cycle later than the core's (``AXIConfig.latency_cycles``): it goes out through a
register slice, so that ``m_axis_result_tready`` steers only the slice and no path runs from
the core's result queue through ``tvalid`` and ``tready`` into the side queue. ``tvalid``
never depends on ``tready``; ``s_axis_vector_tready`` depends on the codebook
stream's ``tvalid`` and on a pending ``ACTIVE`` write (configuration goes first), as in the
native core. AXI4-Lite: a read's data comes two cycles after its address (``arready`` is low
until ``rvalid`` has been taken; the registers are sampled as the address arrives); a
write's response comes the cycle after both its address and data have been taken, an
``ACTIVE`` write's one cycle later (it is registered on its way to the core).
Every path from the AXI4-Lite registers to the core starts at a register.
"""

from amaranth.hdl import Cat, ClockDomain, Module, Mux, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from .bus import (AXIConfig, STATUS_BITS, axi_port_table, register_map)
from .core import MADCore
from .registers import StreamSlice


__all__ = ["AXIStreamMADCore", "AXIStreamTop"]


def _members(config, skip=()):
    return {p["name"]: (In if p["direction"] == "input" else Out)(p["width"])
            for p in axi_port_table(config) if p["name"] not in skip}


def _check(config):
    if not isinstance(config, AXIConfig):
        raise TypeError(f"config must be an AXIConfig, not {config!r}")


# AXI response codes.
OKAY, SLVERR = 0b00, 0b10


class AXIStreamMADCore(wiring.Component):
    """A :class:`~madvq.hdl.core.MADCore` with AXI4-Stream and AXI4-Lite ports, in the
    ``sync`` domain (its reset, active high, resets what ``aresetn`` resets in
    :class:`AXIStreamTop`). Same latency and throughput as the core; see the module's
    description for the channels."""

    def __init__(self, config):
        _check(config)
        self._config = config
        super().__init__(_members(config, skip=("aclk", "aresetn")))

    @property
    def config(self):
        return self._config

    def framing_queue(self):
        """The side queue of ``tlast`` and ``tuser``: as deep as the core's result queue
        (the most vectors that can be between their transfer and their result's), read
        asynchronously (it is small; distributed RAM or flip-flops)."""
        return fifo.SyncFIFO(width=1 + self._config.user_width,
                             depth=self._config.core.result_queue_depth)

    def elaborate(self, platform):
        cfg = self._config.core
        m = Module()
        core = m.submodules.core = MADCore(cfg)
        accept, delivered = self._streams(m, core)
        vectors_in, results_out, status = self._counters(m, core, accept, delivered)
        # m as the core holds it: writes outside 1..M are not passed on (the core would
        # ignore them too), so this always reads back what applies.
        active = Signal(range(cfg.templates + 1), init=cfg.templates)
        self._write_channel(m, core, active)
        self._read_channel(m, {"ACTIVE": active, "VECTORS_IN": vectors_in,
                               "RESULTS_OUT": results_out, "STATUS": status})
        return m

    def _streams(self, m, core):
        """The three streams to and from the core; ``(accept, delivered)``: a vector, a
        result is transferred in this cycle."""
        axi = self._config
        cfg = axi.core
        # -- vectors in: the framing (tlast, tuser) waits beside the core for the result --
        accept = Signal()
        m.d.comb += [
            core.vector.valid.eq(self.s_axis_vector_tvalid),
            core.vector.payload.eq(self.s_axis_vector_tdata[:cfg.dims * cfg.width]),
            self.s_axis_vector_tready.eq(core.vector.ready),
            accept.eq(self.s_axis_vector_tvalid & core.vector.ready),
        ]
        framing = m.submodules.framing = self.framing_queue()
        user_in = Cat(self.s_axis_vector_tlast, self.s_axis_vector_tuser) if axi.user_width \
            else self.s_axis_vector_tlast
        m.d.comb += [framing.w_en.eq(accept), framing.w_data.eq(user_in)]

        # -- results out, through a register slice (StreamSlice): the core's result and its
        # framing are taken together into an output register (or, while that one waits, a
        # second one), so that the core's queue and the side queue are read on registers
        # alone and ``tready`` only steers the slice --
        res = core.result.payload
        tdata = Signal(len(self.m_axis_result_tdata))
        for field in axi.result_fields():
            lsb, width = field["lsb"], field["width"]
            if field["name"] == "distances":
                for j in range(field["count"]):
                    at = lsb + j * field["stride"]
                    m.d.comb += tdata[at:at + width].eq(res.distances[j])
            else:
                m.d.comb += tdata[lsb:lsb + width].eq(res[field["name"]])
        incoming = Cat(tdata, framing.r_data)
        out = m.submodules.result_slice = StreamSlice(len(incoming))
        delivered = Signal()
        m.d.comb += [
            out.i.valid.eq(core.result.valid),
            out.i.payload.eq(incoming),
            core.result.ready.eq(out.i.ready),
            framing.r_en.eq(core.result.valid & out.i.ready),
            out.o.ready.eq(self.m_axis_result_tready),
            delivered.eq(out.o.valid & self.m_axis_result_tready),
            self.m_axis_result_tvalid.eq(out.o.valid),
            self.m_axis_result_tdata.eq(out.o.payload[:len(tdata)]),
            self.m_axis_result_tlast.eq(out.o.payload[len(tdata)]),
        ]
        if axi.user_width:
            m.d.comb += self.m_axis_result_tuser.eq(out.o.payload[len(tdata) + 1:])

        # -- codebook --
        m.d.comb += [
            core.codebook.valid.eq(self.s_axis_codebook_tvalid),
            core.codebook.payload.index.eq(self.s_axis_codebook_tdest),
            core.codebook.payload.template.eq(
                self.s_axis_codebook_tdata[:cfg.dims * cfg.width]),
            self.s_axis_codebook_tready.eq(core.codebook.ready),
        ]
        return accept, delivered

    def _counters(self, m, core, accept, delivered):
        """The ``VECTORS_IN``, ``RESULTS_OUT`` and ``STATUS`` registers (``STATUS``'s count
        and busy bit two cycles behind the counters, its ready bits one)."""
        vectors_in = Signal(32)
        results_out = Signal(32)
        with m.If(accept):
            m.d.sync += vectors_in.eq(vectors_in + 1)
        with m.If(delivered):
            m.d.sync += results_out.eq(results_out + 1)
        # STATUS is two register stages behind the counters, the subtraction in one and the
        # busy check in the other, so that neither is on the read path nor in series with
        # the other (on the ecp5 top each was, in turn, its slowest path). The results in
        # flight never exceed the core's queue and the slice: 16 bits are exact.
        in_flight = Signal(16)
        m.d.sync += in_flight.eq(vectors_in - results_out)
        status = Signal(32)
        m.d.sync += [
            status[STATUS_BITS["busy"]].eq(in_flight != 0),
            status[STATUS_BITS["result_valid"]].eq(self.m_axis_result_tvalid),
            status[STATUS_BITS["vector_ready"]].eq(core.vector.ready),
            status[STATUS_BITS["codebook_ready"]].eq(core.codebook.ready),
            status[16:].eq(in_flight),
        ]
        return vectors_in, results_out, status

    def _write_channel(self, m, core, active):
        """AXI4-Lite writes. Address and data are each taken into a register of their own,
        in either order or in the same cycle; once both are there the write happens and
        the response follows (the registers are free again for the next write meanwhile).
        Only ``ACTIVE`` is writable."""
        templates = self._config.core.templates
        aw_full = Signal()
        aw_word = Signal(len(self.s_axil_araddr) - 2)
        w_full = Signal()
        w_data = Signal(32)
        w_strb = Signal(4)
        bvalid = Signal()
        bresp = Signal(2)
        m.d.comb += [
            self.s_axil_awready.eq(~aw_full),
            self.s_axil_wready.eq(~w_full),
            self.s_axil_bvalid.eq(bvalid),
            self.s_axil_bresp.eq(bresp),
        ]
        with m.If(self.s_axil_awvalid & ~aw_full):
            m.d.sync += [aw_full.eq(1), aw_word.eq(self.s_axil_awaddr[2:])]
        # Whether the written bytes are zero above the count's bits, worked out as the data
        # arrives (the bytes not written keep the current count's, which are zero there):
        # a 32-bit check on the way to the write was the ecp5 top's slowest path.
        count_bits = len(active)
        w_high_zero = Signal()
        high_zero = 1
        for bit in range(count_bits, 32):
            high_zero &= ~self.s_axil_wstrb[bit // 8] | ~self.s_axil_wdata[bit]
        with m.If(self.s_axil_wvalid & ~w_full):
            m.d.sync += [w_full.eq(1), w_data.eq(self.s_axil_wdata), w_high_zero.eq(high_zero),
                         w_strb.eq(self.s_axil_wstrb)]
        with m.If(bvalid & self.s_axil_bready):
            m.d.sync += bvalid.eq(0)

        # The bytes of ACTIVE that the strobes select, over the current value.
        merged = Signal(32)
        current = Signal(32)
        m.d.comb += current.eq(active)
        for byte in range(4):
            m.d.comb += merged[8 * byte:8 * byte + 8].eq(
                Mux(w_strb[byte], w_data[8 * byte:8 * byte + 8],
                    current[8 * byte:8 * byte + 8]))
        # m applies when it is 1..M: the bits above M's width must all be zero and the rest
        # compared as a narrow number (a 32-bit comparison was a long carry chain).
        low = merged[:count_bits]
        applies = Signal()
        m.d.comb += applies.eq(w_high_zero & (low != 0) & (low <= templates))
        writing = Signal()
        is_active = Signal()
        active_offset = next(r["offset"] for r in register_map(self._config)
                             if r["name"] == "ACTIVE")
        m.d.comb += [writing.eq(aw_full & w_full & ~bvalid & ~core.active.valid),
                     is_active.eq(aw_word == active_offset // 4)]
        # An active count that applies is registered before it is offered to the core: the
        # decoding above then stays off the core's vector handshake, which waits for
        # ``active.valid``. The response follows once the core has taken it, so a vector
        # transferred after the response sees the new m.
        active_valid = Signal()
        active_value = Signal.like(active)
        m.d.comb += [core.active.valid.eq(active_valid), core.active.payload.eq(active_value)]
        with m.If(writing):
            m.d.sync += [aw_full.eq(0), w_full.eq(0)]
            with m.If(is_active & applies):
                m.d.sync += [active_valid.eq(1), active_value.eq(merged)]
            with m.Else():
                # Ignored (a count outside 1..M: OKAY, as the native core ignores it), or
                # refused (read-only or past the map).
                m.d.sync += [bvalid.eq(1), bresp.eq(Mux(is_active, OKAY, SLVERR))]
        with m.If(active_valid & core.active.ready):
            m.d.sync += [active_valid.eq(0), active.eq(active_value), bvalid.eq(1),
                         bresp.eq(OKAY)]

    def _read_channel(self, m, live):
        """AXI4-Lite reads, in two steps so that no path runs from a counter through the
        whole register multiplexer: when the address arrives, the live register it names
        (``live``, by name) is sampled, and the map's constant for it looked up; a cycle
        later one of the two becomes ``rdata``, held until taken."""
        regs = register_map(self._config)
        rvalid = Signal()
        rdata = Signal(32)
        rresp = Signal(2)
        pending = Signal()                  # the address is in, the data comes next cycle
        sampled = Signal(32)                # the live register, as the address arrived
        constant = Signal(32)
        is_live = Signal()
        known = Signal()
        m.d.comb += [
            self.s_axil_arready.eq(~rvalid & ~pending),
            self.s_axil_rvalid.eq(rvalid),
            self.s_axil_rdata.eq(rdata),
            self.s_axil_rresp.eq(rresp),
        ]
        with m.If(self.s_axil_arvalid & ~rvalid & ~pending):
            m.d.sync += [pending.eq(1), sampled.eq(0), constant.eq(0), is_live.eq(0),
                         known.eq(0)]
            with m.Switch(self.s_axil_araddr[2:]):
                for reg in regs:
                    with m.Case(reg["offset"] // 4):
                        m.d.sync += known.eq(1)
                        if reg["name"] in live:
                            m.d.sync += [sampled.eq(live[reg["name"]]), is_live.eq(1)]
                        else:
                            m.d.sync += constant.eq(reg["value"])
        with m.If(pending):
            m.d.sync += [pending.eq(0), rvalid.eq(1),
                         rdata.eq(Mux(is_live, sampled, constant)),
                         rresp.eq(Mux(known, OKAY, SLVERR))]
        with m.If(rvalid & self.s_axil_rready):
            m.d.sync += rvalid.eq(0)


class AXIStreamTop(wiring.Component):
    """:class:`AXIStreamMADCore` with its clock and reset as ports: ``aclk`` (rising edge)
    and ``aresetn`` (active low, synchronous). What ``madvq generate --bus axis`` exports."""

    def __init__(self, config):
        _check(config)
        self._config = config
        super().__init__(_members(config))

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        m.d.comb += [sync.clk.eq(self.aclk), sync.rst.eq(~self.aresetn)]
        inner = m.submodules.axi = AXIStreamMADCore(self._config)
        for name, member in inner.signature.members.items():
            ours, theirs = getattr(self, name), getattr(inner, name)
            m.d.comb += (theirs.eq(ours) if member.flow == In else ours.eq(theirs))
        return m

"""A stream from one clock domain to another, for clocks of any ratio and phase.

:class:`StreamCrossing` carries one transfer at a time with a two-phase handshake: the
sending side toggles ``request``, the receiving side sees it through a two-flip-flop
synchronizer, offers the payload, and toggles ``acknowledge`` back when it is taken, which
the sending side sees through another synchronizer. The payload itself crosses as it is
(no synchronizer, no FIFO memory): it is stable from before the request toggles until the
acknowledge is back, so the receiving side never samples it while it changes.

Two ways to keep it stable:

* ``capture=True``: the crossing copies the payload into a register of the sending domain
  when it takes the transfer (``i.ready`` is high whenever no transfer is under way), so
  the sender is free at once. It costs a flip-flop per payload bit.
* ``capture=False``: no copy; the sender's transfer completes only when the receiver has
  taken the payload (``i.ready`` rises for one cycle when the acknowledge is back), and the
  sender must hold ``i.payload`` while ``i.valid`` is high, as the stream rules ask of
  every source. For wide payloads that a register of the sender already holds.

Latency: the payload is offered three to four receiving cycles after the transfer (or the
request) on the sending side; ``o.valid`` comes straight from a flip-flop, and the receiving
side's transfer reaches two flip-flops beside it only. Throughput: one transfer per round trip, about three cycles
of each domain; for the board's link, whose line brings a vector every hundreds of link
cycles, never the limit.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


__all__ = ["StreamCrossing"]


class StreamCrossing(wiring.Component):
    """``i`` (a stream of ``shape`` in domain ``i_domain``) to ``o`` (the same stream in
    domain ``o_domain``); see the module's description for ``capture``."""

    def __init__(self, shape, *, i_domain, o_domain, capture):
        if i_domain == o_domain:
            raise ValueError(f"a crossing needs two domains, not {i_domain!r} twice")
        self._i_domain = i_domain
        self._o_domain = o_domain
        self._capture = bool(capture)
        super().__init__({
            "i": In(stream.Signature(shape)),
            "o": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        i_d, o_d = self._i_domain, self._o_domain
        request = Signal()            # toggled by the sender: a payload is offered
        acknowledge = Signal()        # toggled by the receiver: it was taken
        request_seen = Signal()       # `request` in the receiving domain
        acknowledge_seen = Signal()   # `acknowledge` in the sending domain
        m.submodules.request_sync = FFSynchronizer(request, request_seen, o_domain=o_d)
        m.submodules.acknowledge_sync = FFSynchronizer(acknowledge, acknowledge_seen,
                                                       o_domain=i_d)
        idle = request == acknowledge_seen

        if self._capture:
            held = Signal.like(self.i.payload)
            m.d.comb += [self.i.ready.eq(idle), self.o.payload.eq(held)]
            with m.If(self.i.valid & idle):
                m.d[i_d] += [held.eq(self.i.payload), request.eq(~request)]
        else:
            # `offered`: the request for the payload at `i` is out, not yet acknowledged.
            offered = Signal()
            m.d.comb += self.o.payload.eq(self.i.payload)
            with m.If(~offered & self.i.valid & idle):
                m.d[i_d] += [request.eq(~request), offered.eq(1)]
            with m.If(offered & idle):
                m.d.comb += self.i.ready.eq(1)
                m.d[i_d] += offered.eq(0)

        # `o.valid` from a register of its own (a cycle after the request is seen), so that
        # a receiver whose ready depends on it gets it straight from a flip-flop; the
        # transfer reaches only registers beside it (`acknowledge` toggles a cycle later,
        # from `taken_last`: it may sit far away, by the synchronizer into the sender's
        # domain).
        taken = self.o.valid & self.o.ready
        taken_last = Signal()
        m.d[o_d] += [
            taken_last.eq(taken),
            self.o.valid.eq((request_seen != acknowledge) & ~taken & ~taken_last),
        ]
        with m.If(taken_last):
            m.d[o_d] += acknowledge.eq(~acknowledge)
        return m

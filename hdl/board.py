"""A madvq board: the core, its serial link and the self-test, behind two UART pins.

:class:`BoardTop` is what a bitstream holds (the board-specific wrapper in
:mod:`madvq.gen.boards` only adds the clock, the pins and the LEDs) and what the simulated
board runs, so a host cannot tell them apart.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .core import MADCore
from .link import Link
from .protocol import LinkConfig
from .selftest import SelfTest


__all__ = ["BoardTop"]


class BoardTop(wiring.Component):
    """Core + link + self-test.

    Ports: ``rx`` (serial in, idle high), ``tx`` (serial out), ``winner`` (the template index
    of the last result sent to the host), ``error`` (the last frame was answered with an
    error) and ``selftest`` (a self-test is running), for LEDs.

    The core belongs to the link, except while a self-test runs: then the self-test drives
    the vectors and takes the results (the link refuses what would need the core
    meanwhile). The link starts a self-test only when every earlier vector has its result,
    so the two never share the core.
    """

    def __init__(self, link):
        if not isinstance(link, LinkConfig):
            raise TypeError(f"link must be a LinkConfig, not {link!r}")
        self._link = link
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "winner": Out(link.core.index_width),
            "error": Out(1),
            "selftest": Out(1),
        })

    @property
    def link(self):
        return self._link

    def elaborate(self, platform):
        m = Module()
        core = m.submodules.core = MADCore(self._link.core)
        link = m.submodules.link = Link(self._link)
        test = m.submodules.selftest = SelfTest(self._link.core)

        busy = test.control.busy
        m.d.comb += [
            link.rx.eq(self.rx),
            self.tx.eq(link.tx),
            self.winner.eq(link.winner),
            self.error.eq(link.error),
            self.selftest.eq(busy),
        ]
        wiring.connect(m, link.selftest, test.control)
        # The link writes no template and no active count while the self-test runs (it
        # refuses them, BUSY).
        wiring.connect(m, link.codebook, core.codebook)
        wiring.connect(m, link.active, core.active)

        def own_core(user):
            # ``user`` drives the core's vectors and takes its results.
            return [
                core.vector.valid.eq(user.vector.valid),
                core.vector.payload.eq(user.vector.payload),
                user.vector.ready.eq(core.vector.ready),
                user.result.valid.eq(core.result.valid),
                user.result.payload.eq(core.result.payload),
                core.result.ready.eq(user.result.ready),
            ]
        with m.If(busy):
            m.d.comb += own_core(test)
        with m.Else():
            m.d.comb += own_core(link)
        return m

"""A madvq board: the core, its serial link and the self-test, behind two UART pins.

:class:`BoardTop` is what a bitstream holds (the board-specific wrapper in
:mod:`madvq.gen.boards` only adds the clock, the pins and the LEDs) and what the simulated
board runs, so a host cannot tell them apart.
"""

from types import SimpleNamespace

from amaranth.hdl import DomainRenamer, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .core import MADCore
from .crossing import StreamCrossing
from .link import Link
from .protocol import LinkConfig
from .registers import StreamSlice
from .selftest import REPORT_BYTES, SelfTest, SelfTestSignature


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

    Clocks: the link runs in ``sync``. With ``link.core_clock_ratio`` 1 so do the core and
    the self-test; with 2 they run in the domain ``core`` (twice the link's clock on a
    board, any clock to the logic), and every stream between the two sides goes through a
    :class:`~madvq.hdl.crossing.StreamCrossing` (the link's vector, template and active
    count, and the self-test's report, without a copy: their sources hold them until
    taken). The link then sees the self-test through :class:`_SelfTestShadow`. ``selftest``
    is in the core's domain. The core's results reach the self-test or the crossing through
    a :class:`~madvq.hdl.registers.StreamSlice` (one cycle more:
    ``LinkConfig.result_latency_cycles``).
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
        cfg = self._link.core
        core = MADCore(cfg)
        test = SelfTest(cfg)
        if self._link.core_clock_ratio == 1:
            m.submodules.core, m.submodules.selftest = core, test
        else:
            m.submodules.core = DomainRenamer("core")(core)
            m.submodules.selftest = DomainRenamer("core")(test)
        link = m.submodules.link = Link(self._link)

        results = core.result
        if self._link.core_clock_ratio != 1:
            # The results leave the core through a register slice: the consumer's ready (the
            # self-test's or the crossing's, selected by ``busy``) would otherwise run into
            # the result queue's read logic, the core clock's slowest path on the iCE40.
            out = m.submodules.result_slice = DomainRenamer("core")(
                StreamSlice(core.result.payload.shape()))
            wiring.connect(m, core.result, out.i)
            results = out.o

        busy = test.control.busy
        m.d.comb += [
            link.rx.eq(self.rx),
            self.tx.eq(link.tx),
            self.winner.eq(link.winner),
            self.error.eq(link.error),
            self.selftest.eq(busy),
        ]
        if self._link.core_clock_ratio == 1:
            link_side = link
            wiring.connect(m, link.selftest, test.control)
        else:
            link_side = self._cross(m, link, test)
        # The link writes no template and no active count while the self-test runs (it
        # refuses them, BUSY).
        wiring.connect(m, link_side.codebook, core.codebook)
        wiring.connect(m, link_side.active, core.active)

        def own_core(user):
            # ``user`` drives the core's vectors and takes its results.
            return [
                core.vector.payload.eq(user.vector.payload),
                user.vector.ready.eq(core.vector.ready),
                user.result.valid.eq(results.valid),
                user.result.payload.eq(results.payload),
                results.ready.eq(user.result.ready),
            ]
        with m.If(busy):
            m.d.comb += own_core(test)
        with m.Else():
            m.d.comb += own_core(link_side)
        # The valids need no selection: the self-test offers vectors only while busy, and
        # the link none then (it refuses them while the self-test runs; across the
        # crossings, until the run's report is offered). An OR keeps ``busy`` off the
        # core's handshake, the slowest path of the core's clock.
        m.d.comb += core.vector.valid.eq(test.vector.valid | link_side.vector.valid)
        return m

    @staticmethod
    def _cross(m, link, test):
        """The crossings between the link (``sync``) and the core and self-test (``core``):
        an object with the link's ``vector``, ``codebook``, ``active`` and ``result`` as the
        core's domain sees them."""
        def cross(name, port, *, to_core, capture):
            x = StreamCrossing(port.payload.shape(),
                               i_domain="sync" if to_core else "core",
                               o_domain="core" if to_core else "sync", capture=capture)
            m.submodules[f"cross_{name}"] = x
            if to_core:
                wiring.connect(m, port, x.i)
            else:
                wiring.connect(m, x.o, port)
            return x

        side = SimpleNamespace(**{
            name: cross(name, getattr(link, name), to_core=True, capture=False).o
            for name in ("vector", "codebook", "active")})
        side.result = cross("result", link.result, to_core=False, capture=True).i

        shadow = m.submodules.selftest_shadow = _SelfTestShadow()
        wiring.connect(m, link.selftest, shadow.link)
        start = cross("selftest_start", shadow.test.start, to_core=True, capture=True)
        wiring.connect(m, start.o, test.control.start)
        # No copy: the self-test holds its report byte until it is taken, and the byte's
        # selection (a mux over twenty registers) would be in front of the copy.
        report = StreamCrossing(8, i_domain="core", o_domain="sync", capture=False)
        m.submodules.cross_selftest_report = report
        wiring.connect(m, test.control.report, report.i)
        wiring.connect(m, report.o, shadow.test.report)
        return side


class _SelfTestShadow(wiring.Component):
    """The self-test as the link sees it across the clock crossing (both sides in the link's
    domain): ``link`` faces the link, ``test`` the crossings to the self-test.

    A run is under way from the link's ``start`` transfer until the last byte of its report
    has passed: ``start.ready`` is low meanwhile (as the self-test's own is until its report
    has been read) and ``busy`` is high until the report's first byte is offered on this
    side. Both span the self-test's own ``busy``, which starts after the start has crossed
    and ends before the report is offered, so the link refuses what would need the core for
    at least as long as the self-test holds it, and not until the report is sent."""

    link: In(SelfTestSignature())
    test: Out(SelfTestSignature())

    def elaborate(self, platform):
        m = Module()
        running = Signal()          # started, report not wholly through
        reported = Signal()         # the report's first byte has come
        left = Signal(range(REPORT_BYTES + 1))
        start, report = self.link.start, self.test.report
        m.d.comb += [
            self.link.report.valid.eq(report.valid),
            self.link.report.payload.eq(report.payload),
            report.ready.eq(self.link.report.ready),
            self.test.start.payload.eq(start.payload),
            self.test.start.valid.eq(start.valid & ~running),
            start.ready.eq(self.test.start.ready & ~running),
            self.link.busy.eq(running & ~reported),
        ]
        with m.If(start.valid & start.ready):
            m.d.sync += [running.eq(1), reported.eq(0), left.eq(REPORT_BYTES)]
        # The run is over once its report's first byte is offered (whether or not the
        # reply builder takes it yet: it sends earlier replies first).
        with m.If(report.valid):
            m.d.sync += reported.eq(1)
        with m.If(report.valid & report.ready):
            m.d.sync += left.eq(left - 1)
            with m.If(left == 1):
                m.d.sync += running.eq(0)
        return m

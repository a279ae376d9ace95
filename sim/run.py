"""The simulation API shared by every backend.

``simulate(config, batch, backend=...)`` runs a :class:`~madvq.sim.stimulus.Batch` through a
cycle-accurate simulator of the core and returns a :class:`RunResult`: the results as NumPy
arrays and the number of clock cycles the run took. Checking against the golden model is the
caller's choice (``RunResult.check``), so that a benchmark can leave it out.
"""

from dataclasses import dataclass

from .golden import Results


__all__ = ["RunResult", "SimulationError", "MismatchError", "BACKENDS", "get_backend",
           "simulate", "cycle_budget"]


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
    return int(1000 + 4 * slow * work)


def _amaranth(config):
    from .amaranth_backend import AmaranthBackend
    return AmaranthBackend(config)


BACKENDS = {"amaranth": _amaranth}


def get_backend(name, config):
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(sorted(BACKENDS))}, not {name!r}")
    return BACKENDS[name](config)


def simulate(batch, *, backend="amaranth", vcd=None):
    """Run ``batch`` on the named backend; return a :class:`RunResult`."""
    return get_backend(backend, batch.config).run(batch, vcd=vcd)

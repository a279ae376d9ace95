"""What every simulation backend shares: its result, its errors, its cycle budget and the
checks a backend makes on its arguments. The backends import this module; :mod:`.run`
picks a backend by name and imports them (no module imports the one that imports it).
"""

from dataclasses import dataclass

from madvq.hdl.config import CoreConfig
from madvq.hdl.tools import MissingToolError
from .golden import Results


__all__ = ["RunResult", "SimulationError", "MismatchError", "MissingToolError", "Backend",
           "cycle_budget", "check_vcd_window", "MAX_CYCLE"]


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
            # Ints, or lists of the K nearest with top_k > 1.
            got = (self.results.index[k].tolist(), self.results.distance[k].tolist())
            want = (expected.index[k].tolist(), expected.distance[k].tolist())
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


class Backend:
    """A simulator of one core configuration: ``run(batch)`` returns a :class:`RunResult`.
    Subclasses set ``name`` and implement ``run``; this checks what they all check."""
    name = None

    def __init__(self, config):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        self.config = config

    def check_batch(self, batch):
        """``ValueError`` unless ``batch`` is for this backend's configuration."""
        if batch.config != self.config:
            raise ValueError(f"the batch is for {batch.config.default_name}, the backend "
                             f"simulates {self.config.default_name}")

    def run(self, batch, *, vcd=None, vcd_start=0, vcd_cycles=None):
        """Run ``batch``; return a :class:`RunResult`. With ``vcd``, write the waveform of
        cycles ``vcd_start`` .. ``vcd_start + vcd_cycles - 1`` (to the end of the run when
        ``vcd_cycles`` is None). Subclasses implement it with this contract."""
        raise NotImplementedError

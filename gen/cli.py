"""The ``madvq`` command.

``madvq generate`` writes a core's Verilog and interface JSON, ``madvq simulate`` runs arrays
of vectors through the cycle-accurate simulation and checks them against the golden model,
``madvq demo`` does both on a built-in example. Bad input is reported as one line on stderr
with exit status 2; a simulation that disagrees with the golden model exits with status 1.
"""

import argparse
import sys
import time

from madvq.hdl.config import CoreConfig


__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    # One line and status 2 for every usage error, instead of argparse's usage block.
    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


class Failure(Exception):
    """The command ran but the hardware disagreed with the golden model (exit status 1)."""


def _add_core_flags(parser, *, from_arrays=False):
    g = parser.add_argument_group("core parameters")
    implied = " (default: implied by the arrays)" if from_arrays else ""
    g.add_argument("--dims", type=int, default=None if from_arrays else 16, metavar="N",
                   help="vector length N" + (implied or " (default 16)"))
    g.add_argument("--templates", type=int, default=None if from_arrays else 16, metavar="M",
                   help="stored templates M" + (implied or " (default 16)"))
    g.add_argument("--width", type=int, default=8, metavar="W",
                   help="bits per value, 1..32 (default 8)")
    g.add_argument("--signed", action="store_true",
                   help="values are two's complement (default unsigned)")
    g.add_argument("--templates-per-cycle", type=int, default=None, metavar="P",
                   help="distance units, 1..M; one vector every ceil(M/P) cycles "
                        "(default M: fully parallel)")
    g.add_argument("--distances", action="store_true",
                   help="results also carry all M distances")
    g.add_argument("--storage", choices=("registers", "ram"), default="auto",
                   help="codebook in registers or in block RAM (ram needs P < M; "
                        "default registers)")
    g.add_argument("--ram-lanes", type=int, metavar="K",
                   help="with --storage ram: distance units whose templates are in block RAM, "
                        "1..P (default P); the others use registers")
    g.add_argument("--arithmetic", choices=("generic", "ecp5"), default="generic",
                   help="distance units in plain HDL arithmetic, or laid out in ECP5 carry "
                        "cells (default generic)")


def _config(args, dims=None, templates=None):
    return CoreConfig(
        dims=args.dims if args.dims is not None else dims,
        templates=args.templates if args.templates is not None else templates,
        width=args.width, signed=args.signed,
        templates_per_cycle=args.templates_per_cycle,
        distances=args.distances, storage=args.storage, arithmetic=args.arithmetic,
        ram_lanes=args.ram_lanes)


def cmd_generate(args):
    from madvq.gen.verilog import generate
    cfg = _config(args)
    path, json_path = generate(cfg, args.name, args.output)
    print(f"wrote {path} and {json_path}: module {args.name or cfg.default_name}, "
          f"latency {cfg.latency_cycles} cycles, one vector every {cfg.cycles_per_vector} "
          f"cycle(s)")
    return 0


def cmd_simulate(args):
    from madvq.gen.arrays import load_array, save_results
    from madvq.sim import golden
    from madvq.sim.run import MismatchError, simulate
    from madvq.sim.stimulus import Batch

    if args.output is not None and not args.output.lower().endswith(".npz"):
        raise ValueError(f"output file must end in .npz, not '{args.output}'")
    codebook = load_array(args.codebook, "codebook")
    vectors = load_array(args.vectors, "vectors")
    dims = vectors.shape[1]
    if args.dims is not None and args.dims != dims:
        raise ValueError(f"the vectors have {dims} values per row but --dims is {args.dims}")
    if codebook.shape[1] != dims:
        raise ValueError(f"the codebook has {codebook.shape[1]} values per row but the "
                         f"vectors have {dims}; both must have dims columns")
    if args.templates is not None and codebook.shape[0] > args.templates:
        raise ValueError(f"the codebook has {codebook.shape[0]} templates (rows) but "
                         f"--templates is {args.templates}")
    cfg = _config(args, dims=dims, templates=codebook.shape[0])
    codebook = golden.check_codebook(cfg, codebook)
    vectors = golden.check_vectors(cfg, vectors)
    active = len(codebook)
    if args.active is not None:
        if not 1 <= args.active <= len(codebook):
            raise ValueError(f"--active must be from 1 to the number of templates in the "
                             f"codebook ({len(codebook)}), not {args.active}")
        active = args.active

    batch = Batch.single(cfg, codebook, vectors, active)
    start = time.perf_counter()
    run = simulate(batch, backend=args.backend, vcd=args.vcd)
    seconds = time.perf_counter() - start
    k = len(vectors)
    print(f"simulated {k} vectors of {cfg.default_name} on the {args.backend} backend: "
          f"{run.cycles} cycles (latency {cfg.latency_cycles}, one vector every "
          f"{cfg.cycles_per_vector} cycle(s)), {seconds:.2f} s, {k / seconds:,.0f} vectors/s")
    if args.output is not None:
        save_results(args.output, run.results)
        print(f"wrote {args.output}")
    if args.vcd is not None:
        print(f"wrote {args.vcd}")
    try:
        run.check(batch)
    except MismatchError as exc:
        raise Failure(str(exc)) from None
    print(f"all {k} results match the golden model")
    return 0


def cmd_demo(args):
    from madvq.gen.demo import run_demo
    if not run_demo(args.out):
        raise Failure("the simulated core disagreed with the golden model")
    return 0


def _int_list(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, not {text!r}") from None
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, not {text!r}")
    return values


def _p_list(text):
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
    values = text.split(",")
    for v in values:
        if v not in ("auto", "registers", "ram") and not (v.startswith("ram")
                                                         and v[3:].isdigit() and int(v[3:])):
            raise argparse.ArgumentTypeError(
                f"{v!r} is not one of auto, registers, ram, ramK (K >= 1)")
    return values


def _choice_list(choices):
    def parse(text):
        values = text.split(",")
        for v in values:
            if v not in choices:
                raise argparse.ArgumentTypeError(
                    f"{v!r} is not one of {', '.join(choices)}")
        return values
    return parse


def _print_record(r):
    name = CoreConfig.from_dict({k: r[k] for k in CoreConfig().to_dict()}).default_name
    if "error" in r:
        print(f"{name} on {r['device']}: tool error: {r['error'].splitlines()[0]}")
        return
    cells = f"{r['logic_cells']:,} of {r['logic_available']:,} {r['logic_cell']}"
    if r.get("harness_cells"):
        cells += f" (harness {r['harness_cells']})"
    if not r["fits"]:
        print(f"{name} on {r['device']}: does not fit: {cells}")
        return
    met = "met" if r["timing_met"] else "missed"
    print(f"{name} on {r['device']}: {cells}, {r['ffs']:,} FF, {r['bram']} BRAM, "
          f"Fmax {r['fmax_mhz']:.1f} MHz (target {r['clock_target_mhz']:g}, {met}), "
          f"{r['cycles_per_vector']} cycle(s)/vector: "
          f"{r['vectors_per_second'] / 1e6:.1f} M vectors/s"
          + (" (cached)" if r.get("cached") else ""))


def cmd_report(args):
    from pathlib import Path
    from madvq.gen.sweep import Point, sweep, write_outputs
    from madvq.gen.synth import device
    cfg = _config(args)
    device(args.device)
    if cfg.arithmetic == "ecp5" and device(args.device).family != "ecp5":
        raise ValueError(f"arithmetic 'ecp5' needs an ECP5 device, not {args.device!r}")
    out = Path(args.output)
    point = Point(cfg, args.device, args.clock, args.seed)
    cache = Path(args.cache) if args.cache else out / "cache"
    record, = sweep([point], cache_dir=cache, work_dir=out / "work",
                    executor=_local_executor("thread", 1), progress=False)
    paths = write_outputs([record], out, command=" ".join(["madvq", *sys.argv[1:]]),
                          plots=False, stem=f"{cfg.default_name}_{args.device}")
    _print_record(record)
    print("wrote " + ", ".join(str(p) for p in paths))
    if "error" in record:
        raise Failure("place and route failed")
    return 0


def _local_executor(kind, jobs):
    from madvq.gen.sweep import make_executor
    return make_executor(kind, jobs=jobs)


def cmd_sweep(args):
    from pathlib import Path
    from madvq.gen.sweep import PRESETS, grid, make_executor, sweep, write_outputs
    if args.scheduler is not None and args.executor != "dask":
        raise ValueError(f"--scheduler needs --executor dask, not --executor {args.executor}")
    if args.preset is not None:
        points = [p for spec in PRESETS[args.preset] for p in grid(**spec)]
    else:
        points = grid(args.dims, args.templates, args.width,
                      templates_per_cycle=args.templates_per_cycle, devices=args.devices,
                      signed=(args.signed,), storages=args.storage,
                      arithmetics=args.arithmetic, clock_mhz=args.clock, seed=args.seed)
    if not points:
        raise ValueError("the grid is empty: every templates-per-cycle value exceeds the "
                         "templates, or the arithmetic does not match the devices")
    out = Path(args.output)
    executor = make_executor(args.executor, jobs=args.jobs, scheduler=args.scheduler)
    try:
        records = sweep(points, cache_dir=Path(args.cache) if args.cache else out / "cache",
                        work_dir=out / "work", executor=executor,
                        progress=not args.quiet)
    finally:
        executor.shutdown()
    paths = write_outputs(records, out, command=" ".join(["madvq", *sys.argv[1:]]))
    for r in records:
        _print_record(r)
    print("wrote " + ", ".join(str(p) for p in paths))
    failed = sum("error" in r for r in records)
    if failed:
        raise Failure(f"{failed} of {len(records)} points failed in the tools (see the "
                      f"records); run again to retry them")
    return 0


def build_parser():
    parser = _Parser(prog="madvq", description="MAD vector-quantizer hardware generator")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("generate", help="write a core's Verilog and interface JSON")
    _add_core_flags(p)
    p.add_argument("--name", help="Verilog module name (default from the parameters, "
                                  "e.g. madvq_16x16x8u_p16)")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="Verilog file (default build/<name>.v); the JSON goes beside it")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("simulate", help="classify vectors with the cycle-accurate simulation")
    p.add_argument("--codebook", required=True, metavar="T",
                   help="templates, .npy or .csv, m rows of N integers")
    p.add_argument("--vectors", required=True, metavar="X",
                   help="vectors, .npy or .csv, K rows of N integers")
    _add_core_flags(p, from_arrays=True)
    p.add_argument("--active", type=int, metavar="m",
                   help="templates 0..m-1 compete (default: all rows of the codebook)")
    from madvq.sim.run import BACKENDS
    p.add_argument("--backend", choices=sorted(BACKENDS), default="amaranth",
                   help="simulator (default amaranth)")
    p.add_argument("--vcd", metavar="FILE", help="write a waveform")
    p.add_argument("-o", "--output", metavar="OUT",
                   help=".npz with arrays index, distance (and distances)")
    p.set_defaults(func=cmd_simulate)

    from madvq.gen.synth import DEVICES
    from madvq.gen.sweep import EXECUTORS, PRESETS
    p = sub.add_parser("report", help="synthesise, place and route one core on one FPGA and "
                                      "report its area, clock and throughput")
    _add_core_flags(p)
    p.add_argument("--device", choices=sorted(DEVICES), default="ecp5-25f",
                   help="FPGA (default ecp5-25f)")
    p.add_argument("--clock", type=float, metavar="MHZ",
                   help="target clock for nextpnr (default 250 on ECP5, 60 on iCE40)")
    p.add_argument("--seed", type=int, default=1, help="placement seed (default 1)")
    p.add_argument("-o", "--output", default="build/report", metavar="DIR",
                   help="output folder (default build/report)")
    p.add_argument("--cache", metavar="DIR",
                   help="cache of finished runs (default DIR/cache; madvq sweep's works)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("sweep", help="report a grid of configurations on several FPGAs: "
                                     "CSV, JSON, plots and a Markdown table")
    g = p.add_argument_group("grid (comma-separated values)")
    g.add_argument("--dims", type=_int_list, default=[16], metavar="N,...")
    g.add_argument("--templates", type=_int_list, default=[16], metavar="M,...")
    g.add_argument("--width", type=_int_list, default=[8], metavar="W,...")
    g.add_argument("--templates-per-cycle", type=_p_list, default=["all"], metavar="P,...",
                   help="numbers, or 'all' for P = M (default all); values above M are "
                        "skipped")
    g.add_argument("--signed", action="store_true", help="signed values")
    g.add_argument("--storage", type=_storage_list, default=["auto"], metavar="S,...",
                   help="auto, registers, ram, or ramK: K units in block RAM (default auto)")
    g.add_argument("--arithmetic", type=_choice_list(("auto", "generic", "ecp5")),
                   default=["auto"], metavar="A,...",
                   help="auto (default): ecp5 on ECP5 devices, generic elsewhere")
    g.add_argument("--devices", type=_choice_list(tuple(DEVICES)),
                   default=["ice40-up5k", "ecp5-25f", "ecp5-85f"], metavar="D,...",
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
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("demo", help="generate the default core and quantize an example "
                                    "image through its simulation")
    p.add_argument("--out", default="build", metavar="DIR",
                   help="output folder (default build)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
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

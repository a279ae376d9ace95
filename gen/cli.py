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
import sys
import time

from madvq.gen import cli_core
from madvq.gen.cli_common import (Failure, add_core_flags, add_port_flags, add_problem_flags,
                                   board_failure, check_output, command_line, core_config,
                                   load_problem)
from madvq.hdl.config import MAX_DIMS, CoreConfig


__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    # One line and status 2 for every usage error, instead of argparse's usage block (an
    # argument with a line break in it, which argparse quotes as it is, stays on the line).
    def error(self, message):
        message = " ".join(message.splitlines())
        self.exit(2, f"{self.prog}: error: {message}\n")


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
    cli_core.add_generate(sub)
    cli_core.add_simulate(sub)
    add_build(sub)
    add_gatelevel(sub)
    add_program(sub)
    add_classify(sub)
    add_selftest(sub)
    cli_core.add_report(sub)
    cli_core.add_sweep(sub)
    add_train(sub)
    add_quantize(sub)
    cli_core.add_prove(sub)
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

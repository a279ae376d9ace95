"""The board flows: ``madvq build`` (a bitstream), ``gatelevel`` (its netlist simulated with
the cell models), ``program`` (loading it), and ``classify`` and ``selftest``, which talk to
a board or to the simulated board (``--port sim``).

For each command, ``add_<command>(sub)`` adds its parser to the subcommands of
:func:`madvq.gen.cli.build_parser`, and ``cmd_<command>(args)`` runs it. What only running a
command needs is imported inside its functions, so that building the parser stays quick.
"""

import time

from madvq.gen.cli_common import (Failure, add_core_flags, add_problem_flags, board_failure,
                                   check_output, core_config, load_problem)


def _add_port_flags(p):
    """The flags of the serial link to a board, or of the simulated board."""
    from madvq.gen.boards import BOARDS
    p.add_argument("--port", required=True,
                   help="serial device of the board (e.g. /dev/ttyUSB1), or 'sim' for the "
                        "simulated board")
    # The simulated board runs on the two-state simulators only.
    p.add_argument("--backend", choices=("auto", "amaranth", "verilator"), default="auto",
                   help="simulator of --port sim: verilator (the board build's clock, real "
                        "baud rate), amaranth (Python; 4 clock cycles per bit), or auto: "
                        "verilator when installed (default auto)")
    p.add_argument("--board", choices=BOARDS,
                   help="the board, built with its defaults: its link's rate is the default "
                        "--baud, and --port sim simulates that build, clock and link "
                        "(default icebreaker)")
    p.add_argument("--baud", type=int,
                   help="serial bit rate the bitstream was built for (default: that of "
                        "--board's default build, e.g. 6000000 on the iCEBreaker)")
    p.add_argument("--timeout", type=float, default=2.0, metavar="S",
                   help="seconds to wait for a reply beyond the transfer time (default 2)")


def add_build(sub):
    from madvq.gen.boards import BOARDS
    p = sub.add_parser("build", help="build a bitstream for a board")
    p.add_argument("--board", required=True, choices=BOARDS)
    p.add_argument("--device", help="ULX3S FPGA size: 12F, 25F, 45F or 85F (default 85F)")
    add_core_flags(p, size=None, size_help="the board's core, or 16 with other core flags")
    p.add_argument("--clock", type=float, metavar="MHZ",
                   help="core clock; a PLL makes it when it differs from the board's "
                        "oscillator, and on the iCE40 boards half of it for the link "
                        "(default: the board's tested clock)")
    p.add_argument("--baud", type=int,
                   help="serial bit rate (default: the fastest of the board's USB-serial "
                        "bridge that the link's clock makes, e.g. 6000000 on the iCEBreaker "
                        "at its default clock)")
    p.add_argument("--max-vectors", type=int, default=32, metavar="K",
                   help="vectors per classify request (default 32)")
    p.add_argument("--seeds", type=int, metavar="K",
                   help="placement seeds tried in turn (1, 2, ... K) until one meets timing "
                        "(default: 5 on the iCE40 boards, 1 on the others)")
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

    from madvq.gen.files import check_output_folder
    if args.flash and not args.program:
        raise ValueError("--flash chooses where --program writes: it needs --program")
    spec = boards.board_spec(args.board, args.device)
    if args.gatelevel:
        from madvq.gen.gatelevel import check_supported
        check_supported(spec.name)
    if args.program:
        # A board madvq cannot program, or a missing openFPGALoader, is refused before the
        # build, not after it.
        boards.program_command(spec.name, f"madvq.{spec.bitstream}", flash=args.flash)
    cfg, clock_mhz = boards.build_target(spec.name, _build_core(args), args.clock)
    seeds = boards.check_seeds(spec.name, args.seeds)
    pll, link = boards.board_link_config(spec, cfg, clock_mhz, baud=args.baud,
                                         max_vectors=args.max_vectors)
    out = args.output or f"build/{spec.name}"
    check_output_folder(out, "output folder")
    boards.toolchain_env()              # every tool is there, before anything is printed
    print(f"building {cfg.default_name} for the {spec.name} ({spec.fpga}) at "
          f"{link.core_clock_hz / 1e6:g} MHz" + (" (PLL)" if pll else "")
          + ("" if link.core_clock_ratio == 1 else
             f", the link at {link.clock_hz / 1e6:g} MHz") + f" into {out}/ ...",
          flush=True)
    try:
        report = boards.build_board(spec.name, link, device=spec.device, out_dir=out, pll=pll,
                                    seeds=seeds,
                                    log=lambda note: print(note, flush=True))
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
    _gatelevel(spec, boards.report_link(report), folder)
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


def _sim_clocks(args):
    """``(link clock in Hz, core_clock_ratio)`` of ``--board``'s default build (the
    iCEBreaker's when not given): the simulated board's."""
    from madvq.gen import boards
    spec = boards.board_spec(args.board or "icebreaker")
    return boards.link_clock(spec, *boards.board_clock(spec, boards.default_config(spec.name)[1]))


def _check_port_flags(args, cfg):
    """Before any work: --baud (default: that of --board's default build), --timeout and
    --board make sense for --port (``cfg``: the core of the simulated board)."""
    from madvq.gen import boards
    from madvq.host.driver import check_timeout
    from madvq.host.transport import check_baud
    from madvq.sim.board import board_link
    clock_hz, ratio = _sim_clocks(args)
    if args.baud is None:
        args.baud = boards.default_baud(args.board or "icebreaker", clock_hz)
    check_baud(args.baud)
    check_timeout(args.timeout)
    if args.port == "sim":
        # The simulated board is the board's default build (--board, else the iCEBreaker's)
        # at --baud; the Amaranth backend runs it at 4 clock cycles per bit instead, but
        # takes the same --baud values as the Verilator one, so that no backend accepts a
        # rate the build would refuse.
        board_link(cfg, "verilator", args.baud, clock_hz, ratio)


def _open_board(args, cfg=None):
    """The driver for ``--port``: the simulated board of ``cfg``, or a serial port."""
    from madvq.host import Board, open_transport
    from madvq.sim.board import board_link
    from madvq.sim.run import resolve_backend
    link, backend = None, None
    if args.port == "sim":
        backend = resolve_backend(args.backend)
        link = board_link(cfg, backend, args.baud, *_sim_clocks(args))
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
    _add_port_flags(p)
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
    _add_port_flags(p)
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
          f"vectors/s at {board.link.core_clock_hz / 1e6:g} MHz; checksum "
          f"{result.sums[0]:08x} {result.sums[1]:08x}")
    if not result.ok:
        raise Failure(f"the self-test checksum differs from the golden model's "
                      f"{result.expected[0]:08x} {result.expected[1]:08x}")
    print("the checksum matches the golden model")
    return 0

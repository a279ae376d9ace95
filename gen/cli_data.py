"""The flows on data: ``madvq train`` (a codebook from training vectors), ``quantize`` (an
image coded block by block through the core) and ``demo`` (a photograph, through the default
core's simulation).

For each command, ``add_<command>(sub)`` adds its parser to the subcommands of
:func:`madvq.gen.cli.build_parser`, and ``cmd_<command>(args)`` runs it. What only running a
command needs is imported inside its functions, so that building the parser stays quick.
"""

import sys

from madvq.gen.cli_common import Failure, board_failure, command_line
from madvq.hdl.config import MAX_DIMS


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

"""What several ``madvq`` commands share (:mod:`madvq.gen.cli` describes the command).

The core flags and the :class:`~madvq.hdl.config.CoreConfig` they make, the arrays of
``--codebook``/``--vectors`` and the core they imply, the check of ``--output``, what a
failed board flow becomes, the command line as given (for the files that record it), and
:class:`Failure`, which ends a command with exit status 1. The command modules
(:mod:`~madvq.gen.cli_core`, :mod:`~madvq.gen.cli_data`, :mod:`~madvq.gen.cli_board`) import
this one; it imports none of them.
"""


from madvq.hdl.config import MAX_DIMS, MAX_TEMPLATES, CoreConfig


class Failure(Exception):
    """The command ran but the hardware disagreed with the golden model (exit status 1)."""


def add_core_flags(parser, *, from_arrays=False, size=16, width=8, size_help=None):
    """The core flags. ``size``: default N and M (None: decided by the command, which
    ``size_help`` or, with ``from_arrays``, the arrays' shapes explain)."""
    g = parser.add_argument_group("core parameters")
    if from_arrays:
        size, size_help = None, "implied by the arrays"
    default = f" (default: {size_help})" if size_help else f" (default {size})"
    g.add_argument("--dims", type=int, default=size, metavar="N",
                   help="vector length N" + default)
    g.add_argument("--templates", type=int, default=size, metavar="M",
                   help="stored templates M" + default)
    g.add_argument("--width", type=int, default=width, metavar="W",
                   help=f"bits per value, 1..32 (default {width})")
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
    g.add_argument("--arithmetic", choices=("generic", "ecp5"), default=None,
                   help="distance units in plain HDL arithmetic, or laid out in ECP5 carry "
                        "cells (default generic; a board build: the board's default)")
    g.add_argument("--top-k", type=int, default=1, metavar="K",
                   help="results carry the K nearest active templates, nearest first, "
                        "1..min(M, 16) (default 1)")


def core_config(args, dims=None, templates=None):
    """The :class:`CoreConfig` of the core flags; ``dims`` and ``templates`` stand in for
    ``--dims`` and ``--templates`` when they are not given."""
    return CoreConfig(
        dims=args.dims if args.dims is not None else dims,
        templates=args.templates if args.templates is not None else templates,
        width=args.width, signed=args.signed,
        templates_per_cycle=args.templates_per_cycle,
        distances=args.distances, storage=args.storage,
        arithmetic=args.arithmetic if args.arithmetic is not None else "generic",
        ram_lanes=args.ram_lanes, top_k=args.top_k)


def single_winner(cfg, what):
    """``ValueError`` unless ``cfg`` reports one nearest template: ``what`` handles no
    more."""
    if cfg.top_k != 1:
        raise ValueError(f"{what} handles one nearest template per result: it needs "
                         f"--top-k 1, not --top-k {cfg.top_k}")


def load_problem(args):
    """The codebook, vectors and core that ``--codebook``/``--vectors`` and the core flags
    describe: ``(config, codebook, vectors, active)``, every input checked."""
    from madvq.gen.arrays import load_array
    from madvq.sim import golden

    codebook = load_array(args.codebook, "codebook")
    vectors = load_array(args.vectors, "vectors")
    dims = vectors.shape[1]
    # Flags out of range are left to CoreConfig, whose message names the allowed range.
    if args.dims is not None and args.dims >= 1 and args.dims != dims:
        raise ValueError(f"the vectors have {dims} values per row but --dims is {args.dims}")
    if codebook.shape[1] != dims:
        raise ValueError(f"the codebook has {codebook.shape[1]} values per row but the "
                         f"vectors have {dims}; both must have dims columns")
    if args.templates is not None and 1 <= args.templates < codebook.shape[0]:
        raise ValueError(f"the codebook has {codebook.shape[0]} templates (rows) but "
                         f"--templates is {args.templates}")
    # Sizes the arrays imply are named as the arrays' own, not as flags never given.
    if args.dims is None and dims > MAX_DIMS:
        raise ValueError(f"the vectors have {dims} values per row; a core takes at most "
                         f"{MAX_DIMS} (dims)")
    if args.templates is None and codebook.shape[0] > MAX_TEMPLATES:
        raise ValueError(f"the codebook has {codebook.shape[0]} templates (rows); a core "
                         f"holds at most {MAX_TEMPLATES}")
    cfg = core_config(args, dims=dims, templates=codebook.shape[0])
    codebook = golden.check_codebook(cfg, codebook)
    vectors = golden.check_vectors(cfg, vectors)
    active = len(codebook)
    if args.active is not None:
        if not 1 <= args.active <= len(codebook):
            raise ValueError(f"--active must be from 1 to the number of templates in the "
                             f"codebook ({len(codebook)}), not {args.active}")
        active = args.active
    return cfg, codebook, vectors, active


def check_output(path):
    """``--output``, when given, is an .npz file that can be written."""
    from madvq.gen.files import check_output_file
    if path is not None:
        check_output_file(path, "output file", (".npz",))


def board_failure(exc):
    """What a board flow raises for ``exc``: a tool, board or build that failed becomes a
    :class:`Failure` (exit status 1); a missing tool (bad input) and anything else
    stay as they are."""
    from madvq.hdl.tools import MissingToolError, ToolError
    from madvq.host import BoardError
    from madvq.sim.verilated import BuildError
    if isinstance(exc, MissingToolError):
        return exc                    # not installed: bad input, exit status 2
    if isinstance(exc, (ToolError, BoardError, BuildError)):
        return Failure(" ".join(str(exc).split()))
    return exc


def add_problem_flags(p):
    """The arrays to classify and the core flags they leave open."""
    p.add_argument("--codebook", required=True, metavar="T",
                   help="templates, .npy or .csv, m rows of N integers")
    p.add_argument("--vectors", required=True, metavar="X",
                   help="vectors, .npy or .csv, K rows of N integers")
    add_core_flags(p, from_arrays=True)
    p.add_argument("--active", type=int, metavar="m",
                   help="templates 0..m-1 compete (default: all rows of the codebook)")


def command_line(args):
    """The command as given, for the files that record it."""
    import shlex
    return shlex.join(["madvq", *args.argv])

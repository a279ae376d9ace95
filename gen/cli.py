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

The commands are in :mod:`~madvq.gen.cli_core` (generate, simulate, report, sweep, prove),
:mod:`~madvq.gen.cli_data` (train, quantize, demo) and :mod:`~madvq.gen.cli_board` (build,
gatelevel, program, classify, selftest), what they share in :mod:`~madvq.gen.cli_common`;
this module puts their parsers together and runs them.
"""

import argparse
import sys

from madvq.gen import cli_board, cli_core, cli_data
from madvq.gen.cli_common import Failure


__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    # One line and status 2 for every usage error, instead of argparse's usage block (an
    # argument with a line break in it, which argparse quotes as it is, stays on the line).
    def error(self, message):
        message = " ".join(message.splitlines())
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    parser = _Parser(prog="madvq", description="MAD vector-quantizer hardware generator")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    # In the order madvq --help lists them, which users know: not grouped by module.
    cli_core.add_generate(sub)
    cli_core.add_simulate(sub)
    cli_board.add_build(sub)
    cli_board.add_gatelevel(sub)
    cli_board.add_program(sub)
    cli_board.add_classify(sub)
    cli_board.add_selftest(sub)
    cli_core.add_report(sub)
    cli_core.add_sweep(sub)
    cli_data.add_train(sub)
    cli_data.add_quantize(sub)
    cli_core.add_prove(sub)
    cli_data.add_demo(sub)
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

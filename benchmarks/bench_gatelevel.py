"""Gate-level simulation figures, measured in one run, and the mutants it must catch.

For each board: the default build's netlist (synthesised here with the build's own Yosys
script, or taken from an existing build folder), its size (cells by type, Verilog), the time
to compile it with the cell models, and the check through the host driver
(:func:`madvq.gen.gatelevel.check_board`): board cycles simulated, wall-clock seconds, cycles
per second.

With --mutants, deliberately broken copies of the netlist go through the same check, each
of which must fail:

* lut: one truth-table bit of a LUT in distance unit 1 flipped (iCE40 SB_LUT4, ECP5 CCU2C);
* init: the codebook's power-up contents corrupted (iCE40: every codebook block RAM's
  INIT words set to ones; ECP5: every codebook register's init/reset value set to one);
* lock: the PLL never reports lock (every reader of LOCK sees 0).

Usage: python benchmarks/bench_gatelevel.py [--board icebreaker|ulx3s|both]
       [--build-dir DIR] [--mutants lut,init,lock] [--work DIR]
"""

import argparse
import json
import shutil
import time
from pathlib import Path

from madvq.gen import boards, gatelevel
from madvq.host import BoardError


def default_link(board):
    # The board's clocks (the link at half the core's on the iCE40 boards), at 1 Mbaud.
    return boards.board_link_config(boards.board_spec(board), *boards.default_config(board),
                                    baud=1_000_000)[1]


def top_of(netlist):
    return next(m for m in netlist["modules"].values()
                if int(str(m.get("attributes", {}).get("top", "0")), 2) == 1)


def flip_lut(netlist, board):
    top = top_of(netlist)
    kind, param = ("SB_LUT4", "LUT_INIT") if board == "icebreaker" else ("CCU2C", "INIT0")
    for name, cell in sorted(top["cells"].items()):
        if cell["type"] == kind and name.startswith("board.core.unit1"):
            value = cell["parameters"][param]
            bit = len(value) - 1 - 9         # entry 9 (A=1, B=0, C=0, D=1)
            cell["parameters"][param] = value[:bit] + ("1" if value[bit] == "0" else "0") \
                + value[bit + 1:]
            return f"{kind} {name}: {param} entry 9 flipped"
    raise SystemExit(f"no {kind} in distance unit 1")


def corrupt_init(netlist, board):
    top = top_of(netlist)
    count = 0
    for name, cell in top["cells"].items():
        if not name.startswith("board.core.codebook"):
            continue
        if cell["type"] == "SB_RAM40_4K":
            for k in range(16):
                cell["parameters"][f"INIT_{k:X}"] = "1" * 256
            count += 1
        elif cell["type"] == "TRELLIS_FF":
            cell["parameters"]["REGSET"] = "SET"
            count += 1
    if not count:
        raise SystemExit("no codebook storage cells found")
    return f"power-up contents of {count} codebook cells set to ones"


def never_lock(netlist, board):
    top = top_of(netlist)
    pll = next(c for c in top["cells"].values() if c["type"] in ("SB_PLL40_PAD", "SB_PLL40_2F_PAD", "EHXPLLL"))
    lock = pll["connections"]["LOCK"][0]
    readers = 0
    for cell in top["cells"].values():
        if cell is pll:
            continue
        for port, bits in cell["connections"].items():
            if cell.get("port_directions", {}).get(port, "input") != "output" and lock in bits:
                cell["connections"][port] = ["0" if b == lock else b for b in bits]
                readers += 1
    return f"LOCK read as 0 by {readers} cells"


MUTANTS = {"lut": flip_lut, "init": corrupt_init, "lock": never_lock}


def run_check(board, folder, link):
    start = time.perf_counter()
    transport = gatelevel.gatelevel_board(board, folder, link)
    compiled = time.perf_counter() - start
    report = gatelevel.check_board(transport, link)
    return compiled, report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", choices=("icebreaker", "ulx3s", "both"), default="both")
    parser.add_argument("--build-dir", help="an existing build folder of the board (one "
                        "board only); default: synthesise the default build here")
    parser.add_argument("--mutants", default="", help="comma-separated: lut, init, lock")
    parser.add_argument("--work", default="build/bench-gatelevel", help="working folder")
    args = parser.parse_args()
    chosen = ["icebreaker", "ulx3s"] if args.board == "both" else [args.board]
    mutants = [m for m in args.mutants.split(",") if m]
    for m in mutants:
        if m not in MUTANTS:
            parser.error(f"unknown mutant {m!r}; choose from {', '.join(MUTANTS)}")
    work = Path(args.work)

    for board in chosen:
        link = default_link(board)
        if args.build_dir:
            folder = Path(args.build_dir)
        else:
            folder = work / board
            start = time.perf_counter()
            gatelevel.synthesize(board, link, folder)
            print(f"{board}: synthesis {time.perf_counter() - start:.0f} s", flush=True)
        cells = gatelevel.cell_types(gatelevel.read_netlist(folder))
        print(f"{board}: netlist {sum(cells.values()):,} cells: "
              + ", ".join(f"{t} {n:,}" for t, n in cells.items()), flush=True)
        compiled, report = run_check(board, folder, link)
        size = (folder / gatelevel.NETLIST_VERILOG).stat().st_size
        print(f"{board}: Verilog {size / 1e6:.1f} MB, model ready in {compiled:.0f} s; "
              f"check passed: {report.vectors} vectors, self-test {report.selftest_count}, "
              f"{report.cycles:,} cycles in {report.seconds:.1f} s "
              f"({report.cycles_per_second:,.0f} cycles/s)", flush=True)

        for name in mutants:
            mutant = work / f"{board}-mutant-{name}"
            shutil.rmtree(mutant, ignore_errors=True)
            mutant.mkdir(parents=True)
            netlist = json.loads((folder / gatelevel.NETLIST).read_text())
            what = MUTANTS[name](netlist, board)
            (mutant / gatelevel.NETLIST).write_text(json.dumps(netlist))
            try:
                run_check(board, mutant, link)
            except (gatelevel.GateLevelMismatch, BoardError) as exc:
                print(f"{board}: mutant {name} ({what}): caught: {type(exc).__name__}: "
                      f"{exc}", flush=True)
            else:
                print(f"{board}: mutant {name} ({what}): NOT caught", flush=True)


if __name__ == "__main__":
    main()

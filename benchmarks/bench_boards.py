"""Board figures, measured in one run: builds, the serial link, the self-test.

Prints, for each candidate 16x16x8 configuration of a board: utilisation, Fmax against the
clock, cycles per vector, vectors per second (at the built clock and at Fmax, beside the
analog original's 333,000 per second) and the full build time. Then the serial link's
vectors per second, measured on the simulated board (board time, UART bit level) at the
board's serial rate (boards.default_baud), and the self-test's cycle count on the simulated
board.

Usage: python benchmarks/bench_boards.py [--board icebreaker|icesugar|ulx3s|tangnano9k|none]
       [--device D]
       [--candidates] [--clock MHZ] [--link-vectors K] [--backend verilator|amaranth]
Without --candidates only the board's default configuration is built.
"""

import argparse
import os
import platform
import tempfile
import time

import numpy as np

from madvq.gen import boards
from madvq.hdl.config import CoreConfig
from madvq.hdl.protocol import Command, encode_frame, escape
from madvq.host import Board
from madvq.sim.board import SimulatedBoard, VerilatedBoard


ANALOG = 333_000

CANDIDATES = {
    "icebreaker": [dict(templates_per_cycle=1, storage="ram"),
                   dict(templates_per_cycle=2, storage="ram"),
                   dict(templates_per_cycle=4, storage="registers"),
                   dict(templates_per_cycle=4, storage="ram", ram_lanes=3)],
    # The iCEBreaker's FPGA: its default core, at its clock and above (--clock).
    "icesugar": [dict(templates_per_cycle=3, storage="ram")],
    "ulx3s": [dict(templates_per_cycle=8, storage="registers"),
              dict(templates_per_cycle=16, storage="registers"),
              dict(templates_per_cycle=16, storage="registers", arithmetic="ecp5")],
    # The GW1NR-9's 8,640 LUT4 positions hold logic and carry (ALU) cells alike; 26 BSRAM.
    "tangnano9k": [dict(templates_per_cycle=4, storage="ram"),
                   dict(templates_per_cycle=6, storage="ram"),
                   dict(templates_per_cycle=8, storage="registers")],
}


def build(board, core, clock_mhz, device):
    spec = boards.board_spec(board, device)
    pll, link = boards.board_link_config(spec, core, clock_mhz)
    os.makedirs("build", exist_ok=True)
    out = tempfile.mkdtemp(prefix=f"bench-{board}-", dir="build")
    try:
        r = boards.build_board(board, link, device=spec.device, out_dir=out, pll=pll)
        print(r.summary())
    except boards.ToolError as exc:
        print(f"{board} {core.default_name} at {clock_mhz:g} MHz: {exc}")


def link_speed(link, k, backend):
    """Vectors per second over the serial link, in board time, on the simulated board of
    ``link`` (a board's default build: its clocks and rate)."""
    core, clock_hz, baud = link.core, link.clock_hz, link.baud
    sim = VerilatedBoard(link) if backend == "verilator" else SimulatedBoard(link)
    board = Board(sim)
    rng = np.random.default_rng(0)
    board.load_codebook(rng.integers(0, 256, (core.templates, core.dims)))
    vectors = rng.integers(0, 256, (k, core.dims))
    t0, c0, wall = sim.now(), sim.cycles, time.perf_counter()
    board.classify(vectors)
    seconds, wall = sim.now() - t0, time.perf_counter() - wall
    # What the request bytes alone take on the line: the ceiling of a full pipeline.
    line = sum(len(escape(encode_frame(Command.CLASSIFY, 0, b"".join(
        link.encode_values(r) for r in vectors[j:j + link.max_vectors]))))
        for j in range(0, k, link.max_vectors)) * 10 / baud
    print(f"link ({backend}): {k} vectors of {core.default_name} at {baud} baud "
          f"({clock_hz / 1e6:g} MHz link clock): {seconds * 1e3:.1f} ms of board time, "
          f"{k / seconds:,.0f} vectors/s ({k / seconds / ANALOG:.3f}x the analog original); "
          f"the request bytes alone take {line * 1e3:.1f} ms ({line / seconds:.1%} of it); "
          f"simulated at {(sim.cycles - c0) / wall:,.0f} cycles/s")
    result = board.selftest(100_000 if backend == "verilator" else 2000, seed=0x5EED)
    print(f"self-test on the simulated board: {result.count} vectors in {result.cycles} "
          f"cycles ({result.cycles_per_vector:.3f} per vector, "
          f"{result.vectors_per_second:,.0f} vectors/s at {link.core_clock_hz / 1e6:g} MHz), "
          f"checksum "
          f"{'matches' if result.ok else 'DIFFERS FROM'} the golden model")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--board", default="icebreaker", choices=(*boards.BOARDS, "none"))
    parser.add_argument("--device", default=None)
    parser.add_argument("--candidates", action="store_true")
    parser.add_argument("--clock", type=float, default=None)
    parser.add_argument("--link-vectors", type=int, default=2048)
    parser.add_argument("--backend", default="verilator", choices=("verilator", "amaranth"),
                        help="simulator of the board for the link figures")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.2f}")
    if args.board != "none":
        core, mhz = boards.default_config(args.board)
        mhz = args.clock or mhz
        if args.candidates:
            for c in CANDIDATES[args.board]:
                build(args.board, CoreConfig(**c), mhz, args.device)
        else:
            build(args.board, core, mhz, args.device)
    if args.link_vectors:
        board = "icebreaker" if args.board == "none" else args.board
        _, link = boards.board_link_config(boards.board_spec(board, args.device),
                                           *boards.default_config(board))
        link_speed(link, args.link_vectors, args.backend)


if __name__ == "__main__":
    main()

"""Board figures, measured in one run: builds, the serial link, the self-test.

Prints, for each candidate 16x16x8 configuration of a board: utilisation, Fmax against the
clock, cycles per vector, vectors per second (at the built clock and at Fmax, beside the
analog original's 333,000 per second) and the full build time. Then the serial link's
vectors per second, measured on the simulated board (board time, UART bit level), and the
self-test's cycle count on the simulated board.

Usage: python benchmarks/bench_boards.py [--board icebreaker|ulx3s|none] [--link-vectors K]
       [--candidates] [--clock MHZ]
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
from madvq.hdl.protocol import LinkConfig
from madvq.host import Board
from madvq.sim.board import SimulatedBoard


ANALOG = 333_000

CANDIDATES = {
    "icebreaker": [dict(templates_per_cycle=1, storage="ram"),
                   dict(templates_per_cycle=2, storage="ram"),
                   dict(templates_per_cycle=4, storage="registers")],
    "ulx3s": [dict(templates_per_cycle=8, storage="registers"),
              dict(templates_per_cycle=16, storage="registers")],
}


def build(board, core, clock_mhz, device):
    spec = boards.board_spec(board, device)
    pll, hz = boards.board_clock(spec, clock_mhz)
    link = LinkConfig(core=core, clock_hz=hz)
    out = tempfile.mkdtemp(prefix=f"madvq-bench-{board}-", dir=os.getcwd())
    try:
        r = boards.build_board(board, link, device=spec.device, out_dir=out, pll=pll)
        print(r.summary())
    except boards.ToolError as exc:
        print(f"{board} {core.default_name} at {clock_mhz:g} MHz: {exc}")


def link_speed(core, clock_hz, baud, k):
    """Vectors per second over the serial link, in board time, on the simulated board."""
    sim = SimulatedBoard(LinkConfig(core=core, clock_hz=clock_hz, baud=baud))
    board = Board(sim)
    rng = np.random.default_rng(0)
    board.load_codebook(rng.integers(0, 256, (core.templates, core.dims)))
    vectors = rng.integers(0, 256, (k, core.dims))
    t0, wall = sim.now(), time.perf_counter()
    board.classify(vectors)
    seconds, wall = sim.now() - t0, time.perf_counter() - wall
    print(f"link: {k} vectors of {core.default_name} at {baud} baud ({clock_hz / 1e6:g} MHz "
          f"board clock): {seconds * 1e3:.1f} ms of board time, {k / seconds:,.0f} vectors/s "
          f"({k / seconds / ANALOG:.3f}x the analog original); simulated in {wall:.0f} s, "
          f"{sim.cycles / wall:,.0f} cycles/s")
    t0 = time.perf_counter()
    result = board.selftest(2000, seed=0x5EED)
    print(f"self-test on the simulated board: {result.count} vectors in {result.cycles} "
          f"cycles ({result.cycles_per_vector:.3f} per vector), checksum "
          f"{'matches' if result.ok else 'DIFFERS FROM'} the golden model")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--board", default="icebreaker", choices=("icebreaker", "ulx3s", "none"))
    parser.add_argument("--device", default=None)
    parser.add_argument("--candidates", action="store_true")
    parser.add_argument("--clock", type=float, default=None)
    parser.add_argument("--link-vectors", type=int, default=64)
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
        core, mhz = boards.default_config("icebreaker")
        link_speed(core, round(mhz * 1e6), 1_000_000, args.link_vectors)


if __name__ == "__main__":
    main()

"""Simulation across workers: one long run of the Verilator backend against the same vectors
cut into independent parts on local processes, measured in one run.

On the default 16x16x8 core, 1,000,000 random vectors (``--vectors``): the vectors per second
end to end (``simulate`` of the whole batch; ``simulate_parts`` with 1 and 2 workers,
splitting, worker start and joining included; the model compile and the golden-model check
are excluded; best of ``--repeat``), and the ratios to the single run. Every run's results
are checked against the golden model once. The load average is printed before and after:
other processes on the machine slow every figure, the ratios come from the same run.

Usage: python benchmarks/bench_parallel.py [--vectors K] [--repeat R]
"""

import argparse
import os

import numpy as np

from madvq.hdl.config import CoreConfig
from madvq.sim.parallel import simulate_parts
from madvq.sim.run import get_backend, simulate
from madvq.sim.stimulus import Batch
from timing import best_of


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cfg = CoreConfig()
    rng = np.random.default_rng(0)
    batch = Batch.single(cfg, rng.integers(0, 256, (16, 16)),
                         rng.integers(0, 256, (args.vectors, 16)))
    get_backend("verilator", cfg).build()
    print(f"{cfg.default_name}, {args.vectors:,} vectors, {os.cpu_count()} CPUs, "
          f"load before {os.getloadavg()[0]:.2f}")
    rows = [("one run", lambda: simulate(batch, backend="verilator"))]
    for workers, parts in [(1, 1), (2, 2), (2, 4)]:
        rows.append((f"{parts} parts on {workers} worker(s)",
                     lambda w=workers, p=parts: simulate_parts(batch, parts=p, jobs=w,
                                                               backend="verilator")))
    base = None
    for label, fn in rows:
        seconds, run = best_of(args.repeat, fn)
        run.check(batch)
        rate = args.vectors / seconds
        base = base or rate
        print(f"{label:24s} {seconds:7.3f} s  {rate:12,.0f} vectors/s  {rate / base:5.2f}x")
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

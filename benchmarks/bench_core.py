"""Throughput of the simulation and of the golden model, measured in one run.

Prints:
* vectors per second of the cycle-accurate simulation of the default 16x16x8 core
  (Amaranth backend; elaboration excluded, checking excluded);
* vectors per second of the golden model on 1,000,000 vectors, beside
  ``scipy.spatial.distance.cdist(..., "cityblock")`` plus ``argmin`` on the same data,
  and their ratio.

Usage: python benchmarks/bench_core.py [--sim-vectors K] [--model-vectors K]
"""

import argparse
import platform

import numpy as np
from scipy.spatial.distance import cdist

from madvq.hdl.config import CoreConfig
from madvq.sim import golden
from madvq.sim.run import simulate
from madvq.sim.stimulus import Batch
from timing import best_of


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sim-vectors", type=int, default=3000)
    parser.add_argument("--model-vectors", type=int, default=1_000_000)
    args = parser.parse_args()

    cfg = CoreConfig()
    rng = np.random.default_rng(0)
    book = rng.integers(0, 256, (cfg.templates, cfg.dims))
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, "
          f"numpy {np.__version__}")

    # Simulation: a short run first, so that the long run's extra time is all simulation.
    short, long_ = 100, args.sim_vectors + 100
    timings = {}
    for k in (short, long_):
        x = rng.integers(0, 256, (k, cfg.dims))
        batch = Batch.single(cfg, book, x)
        timings[k], run = best_of(1, lambda: simulate(batch))
        run.check(batch)
    sim_rate = (long_ - short) / (timings[long_] - timings[short])
    print(f"simulation, amaranth backend, {cfg.default_name}: "
          f"{sim_rate:,.0f} vectors/s ({long_ - short} vectors beyond a {short}-vector run; "
          f"fixed cost {timings[short]:.2f} s)")

    x = rng.integers(0, 256, (args.model_vectors, cfg.dims))
    t_model, ours = best_of(3, lambda: golden.classify(cfg, book, x))

    def scipy_ref():
        d = cdist(x, book, "cityblock")
        return d.argmin(axis=1), d.min(axis=1)
    t_scipy, (ref_index, ref_dist) = best_of(3, scipy_ref)
    assert (ours.index == ref_index).all() and (ours.distance == ref_dist).all()
    print(f"golden model, {args.model_vectors:,} vectors x {cfg.templates} templates x "
          f"{cfg.dims} dims: {args.model_vectors / t_model:,.0f} vectors/s ({t_model:.3f} s)")
    print(f"scipy cdist cityblock + argmin, same data: {args.model_vectors / t_scipy:,.0f} "
          f"vectors/s ({t_scipy:.3f} s)")
    print(f"golden model / scipy: {t_scipy / t_model:.2f}x")


if __name__ == "__main__":
    main()

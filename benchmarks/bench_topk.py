"""What the K nearest templates cost on an FPGA: the 16x16x8 core (one vector per clock) with
top_k = 1, 2 and 4 on ECP5 LFE5U-25F (speed 6, out of context, YoWASP Yosys + nextpnr,
seed 1), implemented in one run: logic cells (TRELLIS_COMB), flip-flops and Fmax, and each
top-K core against the single-winner one. Also the same three cores with four templates per
clock (P = 4, the running K-list merge in its one-cycle feedback loop).

Usage: python benchmarks/bench_topk.py [--cache DIR] [--jobs N] [--no-rounds]

Figures come from the sweep cache (build/bench_topk/cache by default) when the same
configuration, device, seed, tool versions and madvq sources were implemented before.
"""

import argparse
import platform
from pathlib import Path

from madvq.gen.sweep import Point, error_summary, make_executor, sweep
from madvq.hdl.config import CoreConfig


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", default="build/bench_topk/cache")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--no-rounds", action="store_true",
                        help="only the one-vector-per-clock cores")
    args = parser.parse_args()

    tops = (1, 2, 4)
    groups = [None] if args.no_rounds else [None, 4]
    points = [Point(CoreConfig(top_k=k, templates_per_cycle=p), "ecp5-25f")
              for p in groups for k in tops]
    executor = make_executor("process", jobs=args.jobs)
    try:
        records = sweep(points, cache_dir=Path(args.cache), work_dir=Path("build/bench_topk"),
                        executor=executor)
    finally:
        executor.shutdown()
    good = [r for r in records if "error" not in r]
    if not good:
        raise SystemExit("every point failed: " + error_summary(records[0]["error"]))
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; tools: "
          + ", ".join(f"{k} {v}" for k, v in sorted(good[0]["tool_versions"].items())))
    print("ECP5 LFE5U-25F-6, 16x16x8 unsigned, generic arithmetic, out of context, seed 1:")
    print("| P | top_k | TRELLIS_COMB | FF | Fmax (MHz) | latency | cells vs K = 1 | "
          "FF vs K = 1 | Fmax vs K = 1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for g in range(len(groups)):
        rows = records[g * len(tops):(g + 1) * len(tops)]
        base = rows[0]
        for k, r in zip(tops, rows):
            cfg = points[g * len(tops) + tops.index(k)].config
            if "error" in r or "error" in base:
                # A point whose tools fail is a row that says so; the others still count.
                print(f"| {cfg.templates_per_cycle} | {k} | tool error: "
                      f"{error_summary(r.get('error', base.get('error')))} | | | "
                      f"{cfg.latency_cycles} | | | |")
                continue
            fmax = r["fmax_mhz"]
            print(f"| {cfg.templates_per_cycle} | {k} | {r['logic_cells']:,} | {r['ffs']:,} | "
                  f"{fmax:.1f} | {cfg.latency_cycles} | "
                  f"{r['logic_cells'] / base['logic_cells']:.2f}x | "
                  f"{r['ffs'] / base['ffs']:.2f}x | {fmax / base['fmax_mhz']:.2f}x |"
                  + (" (cached)" if r.get("cached") else ""))


if __name__ == "__main__":
    main()

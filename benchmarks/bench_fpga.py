"""Area, clock and throughput of the core on FPGAs, against the targets, measured in one run.

Implements (YoWASP Yosys + nextpnr, seed 1) and prints:

* ECP5 LFE5U-25F (speed 6), 16x16x8 unsigned, one vector per clock, out of context:
  plain HDL arithmetic and ECP5 carry-cell arithmetic, their logic cells (TRELLIS_COMB),
  flip-flops and Fmax, the ratios between them, and the targets (<= 6,000 cells,
  >= 250 MHz);
* iCE40UP5K, 16x16x8, four templates per clock with three units' templates in block RAM
  (the fastest that fits the device), behind the serial harness: logic cells, block RAMs,
  Fmax and vectors per second against the target (>= 12 million per second), and what is
  left of the device. (madvq's own board link needs more than that: the iCEBreaker build
  of this core needs 5,454 of 5,280 cells, so that board's default is P = 3.)

Usage: python benchmarks/bench_fpga.py [--cache DIR] [--jobs N]

Figures come from the sweep cache (build/sweep-readme/cache by default) when the same
configuration, device, seed, tool versions and madvq sources were implemented before, and
are implemented now otherwise; ``--cache`` names another (empty for a fresh run).
"""

import argparse
import platform
from pathlib import Path

from madvq.gen.sweep import Point, make_executor, sweep
from madvq.hdl.config import CoreConfig


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", default="build/sweep-readme/cache")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args()

    points = [
        Point(CoreConfig(), "ecp5-25f"),
        Point(CoreConfig(arithmetic="ecp5"), "ecp5-25f"),
        Point(CoreConfig(templates_per_cycle=4, storage="ram", ram_lanes=3), "ice40-up5k"),
    ]
    executor = make_executor("process", jobs=args.jobs)
    try:
        generic, ecp5, ice40 = sweep(points, cache_dir=Path(args.cache),
                                     work_dir=Path("build/bench_fpga"), executor=executor)
    finally:
        executor.shutdown()
    for r in (generic, ecp5, ice40):
        if "error" in r:
            raise SystemExit(f"{r['device']}: {r['error']}")
        if not r["fits"] or r["fmax_mhz"] is None:
            raise SystemExit(f"{r['device']}: the core does not fit or has no Fmax "
                             f"(utilisation {r['utilisation']})")

    print(f"machine: {platform.machine()}, Python {platform.python_version()}; tools: "
          + ", ".join(f"{k} {v}" for k, v in sorted(ecp5["tool_versions"].items())))
    print("ECP5 LFE5U-25F-6, 16x16x8 unsigned, one vector per clock, out of context:")
    for name, r in (("generic arithmetic", generic), ("ecp5 carry cells", ecp5)):
        print(f"  {name:20s} {r['logic_cells']:6,} TRELLIS_COMB  {r['ffs']:6,} FF  "
              f"{r['fmax_mhz']:6.1f} MHz  {r['logic_cells'] / 2048:.2f} cells per input bit"
              + (" (cached)" if r.get("cached") else ""))
    print(f"  ecp5 / generic: cells {ecp5['logic_cells'] / generic['logic_cells']:.2f}x, "
          f"Fmax {ecp5['fmax_mhz'] / generic['fmax_mhz']:.2f}x")
    print(f"  target <= 6,000 cells: {'met' if ecp5['logic_cells'] <= 6000 else 'MISSED'} "
          f"({ecp5['logic_cells']:,}); target >= 250 MHz: "
          f"{'met' if ecp5['fmax_mhz'] >= 250 else 'MISSED'} ({ecp5['fmax_mhz']:.1f} MHz); "
          f"critical path {ecp5['critical_path']['from']} -> {ecp5['critical_path']['to']}")
    print("iCE40UP5K, 16x16x8, P = 4, three units' templates in block RAM, behind the "
          "serial harness:")
    vps = ice40["vectors_per_second"]
    print(f"  {ice40['logic_cells']:,} of {ice40['logic_available']:,} ICESTORM_LC "
          f"(harness {ice40['harness_cells']}), {ice40['bram']} of {ice40['bram_available']} "
          f"EBR, {ice40['fmax_mhz']:.1f} MHz, {ice40['cycles_per_vector']} cycles/vector: "
          f"{vps / 1e6:.2f} M vectors/s" + (" (cached)" if ice40.get("cached") else ""))
    print(f"  target >= 12 M vectors/s: {'met' if vps >= 12e6 else 'MISSED'} "
          f"({vps / 12e6:.2f}x); left of the device: "
          f"{ice40['logic_available'] - ice40['logic_cells'] + ice40['harness_cells']:,} "
          f"LCs, {ice40['bram_available'] - ice40['bram']} EBR, 4 SPRAM")


if __name__ == "__main__":
    main()

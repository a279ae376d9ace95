"""ASIC estimate of the 16x16x8 core, beside the analog original, measured in one run.

Synthesises the default core (16 inputs x 16 templates x 8 bits, one vector per clock,
generic arithmetic) to simple gates with YoWASP Yosys, simulates the gate netlist with
Verilator on random data and on the 4x4 blocks of a photograph, and prints (see
:mod:`madvq.gen.asic` for what each figure is and where the constants come from):

* gates by type, flip-flops, transistors (``stat -tech cmos``), logic depth in gates;
* gate-output toggles per cycle on random data and on the photograph, and the energy per
  vector they give at 45 nm / 0.9 V, with the flip-flops' clock pins apart;
* the cross-check of the energy per toggle: 8- and 32-bit adders through the same flow
  against Horowitz's 0.03 pJ and 0.1 pJ;
* the analog chip's 2.1 nJ per vector (0.7 mW at 333,000 vectors per second, 2 um CMOS),
  the ratio, and the estimate scaled to 2 um and 5 V.

Usage: python benchmarks/bench_asic.py [--gates G,...] [--vectors K] [-o DIR]

The record is written to DIR (default build/bench_asic) as CSV, JSON and Markdown. The first
run compiles the gate netlist's Verilator model (minutes for the 16x16x8 core; cached
after).
"""

import argparse
import os
import platform
import time

from madvq.gen.asic import DEFAULT_GATES, DEFAULT_VECTORS, estimate, summary, write_report
from madvq.hdl.config import CoreConfig


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--gates", default=DEFAULT_GATES)
    parser.add_argument("--vectors", type=int, default=DEFAULT_VECTORS)
    parser.add_argument("-o", "--output", default="build/bench_asic")
    args = parser.parse_args()

    cfg = CoreConfig()
    load = os.getloadavg()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}; load average at start {load[0]:.1f}")
    started = time.perf_counter()
    r = estimate(cfg, os.path.join(args.output, "work"), gates=args.gates,
                 vectors=args.vectors, log=lambda note: print(f"  ... {note}", flush=True))
    print("tools: " + ", ".join(f"{k} {v}" for k, v in sorted(r["tool_versions"].items())))
    print(summary(r))
    analog = r["analog_energy_per_vector_nj"] * 1000
    print(f"16x16x8 at 45 nm / 0.9 V, pJ per vector: random {r['energy_per_vector_random_pj']:.1f}"
          f", photograph {r['energy_per_vector_image_pj']:.1f}, + clock pins "
          f"{r['clock_energy_per_vector_pj']:.1f}; analog original {analog:,.0f} pJ "
          f"(2 um): {analog / r['energy_per_vector_image_pj']:,.0f}x (photograph), "
          f"{analog / (r['energy_per_vector_image_pj'] + r['clock_energy_per_vector_pj']):,.0f}x "
          f"with the clock pins")
    paths = write_report(r, args.output, "asic_16x16x8",
                         command="python benchmarks/bench_asic.py")
    print(f"seconds: {r['seconds']}; total {time.perf_counter() - started:.0f} s; load "
          f"average at the end {os.getloadavg()[0]:.1f}")
    print("wrote " + ", ".join(str(p) for p in paths))


if __name__ == "__main__":
    main()

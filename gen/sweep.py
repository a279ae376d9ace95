"""Design-space sweeps: many configurations on many FPGAs, in parallel, cached, resumable.

:func:`sweep` implements every :class:`Point` (a configuration, a device, a target clock and
a seed) with :func:`madvq.gen.synth.implement`, through any ``concurrent.futures.Executor``
(local processes by default; a ``dask.distributed`` client's executor runs them on a
cluster). Each finished point is written to a cache directory at once, under a key made of
the configuration, the device, the clock, the seed, the tool versions and a hash of madvq's
gateware and flow sources, so an interrupted sweep resumes where it stopped and a change to
the design or the tools invalidates what it changes. :func:`write_outputs` turns the records
into CSV, JSON, PNG plots and a Markdown table.
"""

import csv
import datetime
import hashlib
import json
import math
import platform as _platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from madvq.hdl.config import CoreConfig
from .files import check_input_file, check_output_file
from .synth import DEVICES, RECORD_FIELDS, device, implement, tool_versions
from madvq.hdl.tools import ToolError, write_text_atomically


__all__ = ["Point", "grid", "point_key", "source_hash", "run_point", "sweep", "make_executor",
           "write_outputs", "markdown_table", "linearity", "splice_markdown", "fit_problem",
           "record_summary", "error_summary", "EXECUTORS"]


@dataclass(frozen=True)
class Point:
    """One implementation to run: a configuration on a device, at a target clock (MHz;
    ``None`` for the device's default) with a placement seed."""
    config: CoreConfig
    device: str
    clock_mhz: float = None
    seed: int = 1

    def to_dict(self):
        return {"config": self.config.to_dict(), "device": self.device,
                "clock_mhz": self.clock_mhz, "seed": self.seed}

    @classmethod
    def from_dict(cls, d):
        return cls(CoreConfig.from_dict(d["config"]), d["device"], d["clock_mhz"], d["seed"])

    @property
    def label(self):
        return f"{self.config.default_name}@{self.device}"


def _storage(text):
    """``"ram3"``: storage ``ram`` with 3 units reading from RAM; anything else as it is."""
    if isinstance(text, str) and text.startswith("ram") and text[3:].isdigit():
        return "ram", int(text[3:])
    return text, None


def grid(dims, templates, widths, *, templates_per_cycle=("all",), devices=tuple(DEVICES),
         signed=(False,), storages=("auto",), arithmetics=("auto",), clock_mhz=None, seed=1):
    """Every combination of the given parameter values as :class:`Point` s.

    ``templates_per_cycle`` holds numbers or ``"all"`` (= M); a value above M is skipped.
    ``arithmetics`` holds names or ``"auto"``: ``ecp5`` on ECP5 devices, ``generic``
    elsewhere; ``ecp5`` arithmetic is only placed on ECP5 devices. ``storages`` holds
    ``"auto"``, ``"registers"``, ``"ram"`` or ``"ram<K>"`` (K units in RAM, the others in
    registers); ``ram`` is skipped where P = M, ``ram<K>`` where K > P."""
    points = []
    for dev_name in devices:
        dev = device(dev_name)
        for n in dims:
            for m in templates:
                for w in widths:
                    for s in signed:
                        for p in templates_per_cycle:
                            p = m if p == "all" else p
                            if not isinstance(p, int) or p < 1:
                                raise ValueError(f"templates per cycle must be positive "
                                                 f"integers or 'all', not {p!r}")
                            if p > m:
                                continue
                            for storage in storages:
                                storage, ram_lanes = _storage(storage)
                                if storage == "ram" and (p == m or (ram_lanes or 0) > p):
                                    continue
                                for arith in arithmetics:
                                    if arith == "auto":
                                        arith = "ecp5" if dev.family == "ecp5" else "generic"
                                    elif arith == "ecp5" and dev.family != "ecp5":
                                        continue
                                    cfg = CoreConfig(dims=n, templates=m, width=w, signed=s,
                                                     templates_per_cycle=p, storage=storage,
                                                     arithmetic=arith, ram_lanes=ram_lanes)
                                    points.append(Point(cfg, dev_name, clock_mhz, seed))
    # The same point can arise twice (e.g. storage "auto" and "registers", which are equal
    # cores but not equal objects): one per description.
    unique = {}
    for point in points:
        unique.setdefault(json.dumps(point.to_dict(), sort_keys=True), point)
    return list(unique.values())


# The sources that decide what a sweep places: the core's gateware and the flow. The board
# gateware (UART, link, self-test) is not among them, so changing it keeps the cache.
_SOURCES = ("hdl/__init__.py", "hdl/codebook.py", "hdl/config.py", "hdl/core.py",
            "hdl/distance.py", "hdl/ecp5_cells.py", "hdl/harness.py", "hdl/layouts.py",
            "hdl/ports.py", "hdl/registers.py", "hdl/winner.py", "gen/synth.py")


def source_hash():
    """A hash of the sources that decide what gets placed: the core's gateware and the
    flow."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for entry in _SOURCES:
        digest.update(entry.encode())
        digest.update((root / entry).read_bytes())
    return digest.hexdigest()[:16]


def point_key(point, versions=None, sources=None):
    """The cache key of ``point``: configuration, device (and its tool arguments), clock,
    seed, tool versions and the source hash."""
    dev = device(point.device)
    payload = {
        "point": point.to_dict(),
        "device_args": list(dev.nextpnr_args),
        "tool_versions": versions if versions is not None else tool_versions(dev),
        "sources": sources if sources is not None else source_hash(),
    }
    text = json.dumps(payload, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def run_point(point_dict, workdir):
    """Implement one point (given as ``Point.to_dict()``, so that any executor can ship it)
    in ``workdir``; return its record, or a record with ``error`` set when a tool failed."""
    point = Point.from_dict(point_dict)
    start = time.perf_counter()
    try:
        record = implement(point.config, point.device, workdir, clock_mhz=point.clock_mhz,
                           seed=point.seed)
    except Exception as exc:
        # Anything that stops one point (a tool, or an error of madvq's own) is that point's
        # result: the sweep goes on, and the point is run again next time.
        message = str(exc) if isinstance(exc, ToolError) else f"{type(exc).__name__}: {exc}"
        record = {**point.config.to_dict(), "device": point.device, "seed": point.seed,
                  "error": message}
    record["wall_seconds"] = round(time.perf_counter() - start, 1)
    return record


EXECUTORS = ("process", "thread", "dask")


def make_executor(kind="process", *, jobs=None, scheduler=None):
    """A ``concurrent.futures.Executor``: local ``process`` es or ``thread`` s (``jobs``
    workers; the tools run as subprocesses either way), or ``dask`` (the executor of a
    ``dask.distributed.Client`` connected to ``scheduler``, or a local cluster without
    one)."""
    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {kind!r}")
    if jobs is not None and (not isinstance(jobs, int) or jobs < 1):
        raise ValueError(f"jobs must be a positive integer, not {jobs!r}")
    if kind == "process":
        return ProcessPoolExecutor(max_workers=jobs)
    if kind == "thread":
        return ThreadPoolExecutor(max_workers=jobs)
    try:
        from dask.distributed import Client
    except ImportError:
        raise ValueError("executor 'dask' needs dask.distributed; install it with: "
                         "pip install 'dask[distributed]'") from None
    client = Client(scheduler) if scheduler else Client(n_workers=jobs, threads_per_worker=1)
    return client.get_executor()


def _read_cached(path):
    """The record cached at ``path``, or ``None`` when there is none or it cannot be read
    (a damaged entry is run again, never trusted)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "fits" in record else None


def sweep(points, *, cache_dir, work_dir, executor=None, progress=True):
    """Implement ``points``; return their records in order.

    Points found in ``cache_dir`` are not run again; every point that finishes is cached at
    once. ``executor`` is any ``concurrent.futures.Executor`` (default: local processes,
    one per CPU); it is not shut down here. A point whose tools failed comes back with an
    ``error`` and is not cached, so the next run tries it again."""
    cache_dir, work_dir = Path(cache_dir), Path(work_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    sources = source_hash()
    versions = {name: tool_versions(device(name)) for name in {p.device for p in points}}
    keys = [point_key(p, versions[p.device], sources) for p in points]
    records = [None] * len(points)
    todo = []
    for i, key in enumerate(keys):
        record = _read_cached(cache_dir / f"{key}.json")
        if record is not None:
            records[i] = record
            records[i]["cached"] = True
        else:
            todo.append(i)

    own = executor is None
    if own and todo:
        executor = make_executor("process")
    bar = None
    if progress and todo:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), desc="sweep", unit="point", file=sys.stderr)
    futures = {}
    try:
        for i in todo:
            futures[executor.submit(run_point, points[i].to_dict(),
                                    str(work_dir / keys[i]))] = i
        for future in as_completed(futures):
            i = futures[future]
            record = future.result()
            record["key"] = keys[i]
            record["cached"] = False
            if "error" not in record:
                # Whole or not at all: an interrupted sweep leaves no half entry.
                write_text_atomically(cache_dir / f"{keys[i]}.json",
                                      json.dumps(record, indent=1))
            records[i] = record
            if bar is not None:
                bar.set_postfix_str(points[i].label, refresh=False)
                bar.update()
    finally:
        # When the executor itself fails (or on Ctrl-C), points not started yet are not
        # left to run on; what finished is cached already.
        for future in futures:
            future.cancel()
        if bar is not None:
            bar.close()
        if own and todo:
            executor.shutdown()
    return records


# -- outputs --

def _input_bits(r):
    return r["dims"] * r["templates"] * r["width"]


def linearity(records):
    """For each (device, arithmetic) with fully parallel points (P = M) of at least two
    sizes: the exponent b of the least-squares fit cells ~ (N*M*W)**b, and the range of
    logic cells per input bit. b <= 1 means the cost grows no faster than linearly."""
    groups = {}
    for r in records:
        if "error" in r or r["templates_per_cycle"] != r["templates"] or not r["logic_cells"]:
            continue
        groups.setdefault((r["device"], r["arithmetic"]), []).append(r)
    result = {}
    for key, rs in sorted(groups.items()):
        xs = [math.log(_input_bits(r)) for r in rs]
        ys = [math.log(r["logic_cells"]) for r in rs]
        if len(set(xs)) < 2:
            continue
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        b = (sum((x - mx) * (y - my) for x, y in zip(xs, ys))
             / sum((x - mx) ** 2 for x in xs))
        per_bit = [r["logic_cells"] / _input_bits(r) for r in rs]
        result[key] = {"exponent": round(b, 3), "points": len(rs),
                       "cells_per_input_bit": [round(min(per_bit), 2),
                                               round(max(per_bit), 2)]}
    return result


def _config_label(r):
    sign = "s" if r["signed"] else "u"
    label = f"{r['dims']}x{r['templates']}x{r['width']}{sign}"
    return label


def _storage_label(r):
    if r["storage"] == "ram" and r.get("ram_lanes") not in (None, r["templates_per_cycle"]):
        return f"ram ({r['ram_lanes']} of {r['templates_per_cycle']} units)"
    return r["storage"]


def fit_problem(record):
    """Why a record's core did not fit, in a few words: the resources it needs beyond the
    device's, or, when it needs none, that nextpnr found no legal placement (cells that
    share a tile must share their clock enable and reset, which a full device cannot always
    arrange). ``None`` when it fits."""
    if record.get("fits", True):
        return None
    over = [f"{used:,} of {avail:,} {cell}"
            for cell, (used, avail) in sorted(record.get("utilisation", {}).items())
            if used > avail]
    if over:
        return "needs " + ", ".join(over)
    return "nextpnr found no legal placement"


def markdown_table(records, *, command=None, date=None, versions=None):
    """The sweep as a Markdown section body: how it was made, one row per point, and the
    cost-versus-size fit."""
    lines = []
    if command:
        lines += [f"Reproduce with `{command}` (figures: nextpnr's own estimates, one seed, "
                  "out of context on ECP5, behind a serial harness on the iCE40).", ""]
    if date or versions:
        tools = ", ".join(f"{k} {v}" for k, v in sorted((versions or {}).items()))
        lines += [f"Measured {date or ''} with {tools}.", ""]
    lines += [
        "| core N x M x W | P | storage | arithmetic | device | logic cells | FF | BRAM "
        "| Fmax MHz | cycles/vector | M vectors/s | M vectors/s per 1k cells "
        "| cells per input bit |",
        "| --- | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for r in records:
        if "error" in r:
            lines.append(f"| {_config_label(r)} | {r['templates_per_cycle']} | "
                         f"{_storage_label(r)} | {r['arithmetic']} | {r['device']} | tool error "
                         f"| | | | | | | |")
            continue
        cells = f"{r['logic_cells']:,} / {r['logic_available']:,} {r['logic_cell']}"
        if r.get("harness_cells"):
            cells += f" (harness {r['harness_cells']})"
        if not r["fits"]:
            cells += f" **does not fit**: {fit_problem(r)}"
        fmax = f"{r['fmax_mhz']:.1f}" if r["fmax_mhz"] else "-"
        vps = f"{r['vectors_per_second'] / 1e6:.1f}" if r["vectors_per_second"] else "-"
        per_k = f"{r['vectors_per_second_per_klut'] / 1e6:,.1f}" \
            if r["vectors_per_second_per_klut"] else "-"
        bram = f"{r['bram']}" if r["bram_available"] else "-"
        lines.append(
            f"| {_config_label(r)} | {r['templates_per_cycle']} | {_storage_label(r)} | "
            f"{r['arithmetic']} | {r['device']} | {cells} | {r['ffs']:,} | {bram} | {fmax} | "
            f"{r['cycles_per_vector']} | {vps} | {per_k} | "
            f"{r['logic_cells'] / _input_bits(r):.2f} |")
    fits = linearity(records)
    if fits:
        lines += ["", "Cost against size, fully parallel cores (P = M): logic cells ~ "
                  "(N*M*W)^b, least squares over the points above.", "",
                  "| device | arithmetic | points | b | cells per input bit |",
                  "| --- | --- | ---: | ---: | --- |"]
        for (dev, arith), f in fits.items():
            lo, hi = f["cells_per_input_bit"]
            lines.append(f"| {dev} | {arith} | {f['points']} | {f['exponent']:.3f} | "
                         f"{lo:.2f} to {hi:.2f} |")
    return "\n".join(lines) + "\n"


def _plots(records, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    ok = [r for r in records if "error" not in r and r["logic_cells"]]
    series = {}
    for r in ok:
        series.setdefault((r["device"], r["arithmetic"], r["templates_per_cycle"]
                           == r["templates"]), []).append(r)
    paths = []
    for name, ykey, ylabel, scale in [
            ("area", "logic_cells", "logic cells (LUT4 + carry)", 1),
            ("throughput", "vectors_per_second", "vectors per second (millions)", 1e-6)]:
        lines = [(key, sorted((r for r in rs if r[ykey]), key=_input_bits))
                 for key, rs in sorted(series.items())]
        lines = [(key, rs) for key, rs in lines if rs]
        if not lines:
            continue                  # nothing placed (or nothing fits): no plot
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for (dev, arith, parallel), rs in lines:
            label = f"{dev}, {arith}" + ("" if parallel else ", P < M")
            ax.plot([_input_bits(r) for r in rs], [r[ykey] * scale for r in rs],
                    marker="o" if parallel else "s",
                    linestyle="-" if parallel else "--", label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("N * M * W (input bits)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{name}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def write_outputs(records, out_dir, *, command=None, plots=True, stem="sweep"):
    """Write ``<stem>.csv``, ``<stem>.json``, ``<stem>.md`` (and ``area.png``,
    ``throughput.png`` when some point has figures to plot) into ``out_dir``; return the
    paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    date = datetime.date.today().isoformat()
    versions = tool_versions()
    paths = []

    csv_path = out_dir / f"{stem}.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(RECORD_FIELDS + ["error", "tool_versions"])
        for r in records:
            tools = "; ".join(f"{k} {v}" for k, v in sorted(r.get("tool_versions", {}).items()))
            writer.writerow([r.get(k, "") if r.get(k) is not None else ""
                             for k in RECORD_FIELDS] + [r.get("error", ""), tools])
    paths.append(csv_path)

    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps({
        "command": command, "date": date, "tool_versions": versions,
        "machine": f"{_platform.machine()}, Python {_platform.python_version()}",
        "linearity": [{"device": d, "arithmetic": a, **f}
                      for (d, a), f in linearity(records).items()],
        "records": records,
    }, indent=1) + "\n")
    paths.append(json_path)

    md_path = out_dir / f"{stem}.md"
    md_path.write_text(markdown_table(records, command=command, date=date, versions=versions))
    paths.append(md_path)
    if plots:
        paths += _plots(records, out_dir)
    return paths


MARKERS = ("<!-- performance:begin -->", "<!-- performance:end -->")


def splice_markdown(path, text=None):
    """Replace the lines between the performance marker lines of the Markdown file ``path``
    (the README's performance section: a line that is only the begin marker, a line that
    is only the end marker) with ``text``; nothing else changes. With ``text`` None only
    check the file. ``ValueError`` when it lacks one pair of marker lines in order."""
    path = check_input_file(path, "Markdown file")
    check_output_file(path, "Markdown file")
    try:
        lines = path.read_text().splitlines(keepends=True)
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not a text (UTF-8) file") from None
    begin, end = MARKERS
    at_begin = [i for i, line in enumerate(lines) if line.strip() == begin]
    at_end = [i for i, line in enumerate(lines) if line.strip() == end]
    if len(at_begin) != 1 or len(at_end) != 1 or at_begin[0] > at_end[0]:
        raise ValueError(f"{path} needs one line '{begin}' followed by one line '{end}' "
                         f"where the table goes")
    if text is None:
        return
    head, tail = lines[:at_begin[0] + 1], lines[at_end[0]:]
    path.write_text("".join(head) + text.rstrip() + "\n" + "".join(tail))


# Predefined grids (lists of keyword sets for :func:`grid`).
PRESETS = {
    # The README's performance section.
    "readme": [
        # Fully parallel cores in ECP5 carry cells, from 128 to 4,096 input bits.
        dict(dims=[4, 8, 16], templates=[4, 8, 16], widths=[8], devices=["ecp5-25f"],
             arithmetics=["ecp5"]),
        dict(dims=[16], templates=[16], widths=[4, 12], devices=["ecp5-25f"],
             arithmetics=["ecp5"]),
        # 32x32x8 (8,192 input bits) is left out: nextpnr was still routing it after 30
        # minutes on a 2-core machine.
        dict(dims=[16], templates=[16, 32], widths=[8], devices=["ecp5-85f"],
             arithmetics=["ecp5"]),
        dict(dims=[32], templates=[16], widths=[8], devices=["ecp5-85f"],
             arithmetics=["ecp5"]),
        # The same in plain HDL arithmetic, for comparison. (8x16x8 is left out: Yosys 0.70
        # fails an assertion in its ABC9 pass, ABC_OPS_REINTEGRATE, on that core.)
        dict(dims=[8], templates=[8], widths=[8], devices=["ecp5-25f"],
             arithmetics=["generic"]),
        dict(dims=[16], templates=[8, 16], widths=[8], devices=["ecp5-25f"],
             arithmetics=["generic"]),
        # iCE40UP5K: templates compared per clock, codebook in registers, block RAM, or
        # block RAM for three units of four.
        dict(dims=[16], templates=[16], widths=[8], templates_per_cycle=[2, 3, 4, 8],
             devices=["ice40-up5k"], storages=["registers"]),
        dict(dims=[16], templates=[16], widths=[8], templates_per_cycle=[2, 3, 4],
             devices=["ice40-up5k"], storages=["ram"]),
        dict(dims=[16], templates=[16], widths=[8], templates_per_cycle=[4],
             devices=["ice40-up5k"], storages=["ram3"]),
        dict(dims=[4, 8], templates=[4, 8], widths=[8], devices=["ice40-up5k"]),
    ],
    # A quick look at the flow on every device.
    "smoke": [
        dict(dims=[3], templates=[4], widths=[4], devices=list(DEVICES)),
    ],
}


def error_summary(error):
    """One line of a tool error: its first line and the tool's own ERROR line."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    cause = next((line for line in reversed(lines) if line.startswith("ERROR")),
                 lines[-1] if lines else "")
    return lines[0] if not lines or cause == lines[0] else f"{lines[0]} {cause}"


def record_summary(r):
    """One line describing a sweep record: cells, flip-flops, block RAM, Fmax and vectors
    per second, or why the point does not fit or failed."""
    name = CoreConfig.from_dict({k: r[k] for k in CoreConfig().to_dict()}
                                | {"top_k": r.get("top_k", 1)}).default_name
    if "error" in r:
        return f"{name} on {r['device']}: tool error: {error_summary(r['error'])}"
    cells = f"{r['logic_cells']:,} of {r['logic_available']:,} {r['logic_cell']}"
    if r.get("harness_cells"):
        cells += f" (harness {r['harness_cells']})"
    if not r["fits"]:
        return f"{name} on {r['device']}: does not fit: {cells}; {fit_problem(r)}"
    if r["fmax_mhz"] is None:
        speed = "no Fmax in nextpnr's report"
    else:
        met = "met" if r["timing_met"] else "missed"
        speed = (f"Fmax {r['fmax_mhz']:.1f} MHz (target {r['clock_target_mhz']:g}, {met}), "
                 f"{r['cycles_per_vector']} cycle(s)/vector: "
                 f"{r['vectors_per_second'] / 1e6:.1f} M vectors/s")
    return (f"{name} on {r['device']}: {cells}, {r['ffs']:,} FF, {r['bram']} BRAM, {speed}"
            + (" (cached)" if r.get("cached") else ""))

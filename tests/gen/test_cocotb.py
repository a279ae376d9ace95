"""The cocotb tests that ``madvq generate --testbench cocotb`` writes, run as a user runs them
(``python test_<module>.py --sim SIM``, cocotb 2.x runner) on Icarus Verilog and Verilator,
with ``PYTHONWARNINGS=error``: AXI4-Stream cores driven by cocotbext-axi and native cores,
every result checked against the golden model. Deliberately broken cores (tlast dropped, the
register map one word off, the side queue one entry short) must fail them.

The default run uses a few hundred vectors; the 10,000-vector runs of the issue's two cores
on both simulators (and of the native core on Verilator) are marked ``cocotb_full``
(``python -m pytest -m cocotb_full``: several minutes, most of it Verilator compiling).
"""

import os
import re
import subprocess
import sys

import pytest

from madvq.gen.verilog import generate
from madvq.hdl.bus import AXIConfig
from madvq.hdl.config import CoreConfig
from madvq.sim.icarus_backend import find_icarus


BIG = AXIConfig(CoreConfig(), user_width=8)
SMALL = AXIConfig(CoreConfig(dims=5, templates=3, width=6, signed=True,
                             templates_per_cycle=2), user_width=4)
NATIVE = CoreConfig(dims=5, templates=3, width=6, signed=True, templates_per_cycle=2,
                    distances=True)


def make(folder, config):
    """The core's files and its cocotb test in ``folder``; the test's path."""
    generate(config, path=folder / "vq.v", testbench="cocotb")
    return folder / f"test_{config.default_name}.py"


def run(test, simulator, vectors, seed=1):
    """Run a generated test as a script: ``(exit status, output)``."""
    if simulator == "icarus":
        find_icarus()
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    # As a user runs it: cocotb's runner behaves differently under pytest.
    env.pop("PYTEST_CURRENT_TEST", None)
    done = subprocess.run([sys.executable, str(test), "--sim", simulator, "--vectors",
                           str(vectors), "--seed", str(seed)], cwd=test.parent, env=env,
                          capture_output=True, text=True, timeout=1800)
    return done.returncode, done.stdout + done.stderr


def passed(code, out):
    assert code == 0, out[-4000:]
    assert re.search(r"TESTS=1 PASS=1 FAIL=0", out), out[-4000:]


@pytest.fixture(scope="module")
def small_test(tmp_path_factory):
    return make(tmp_path_factory.mktemp("small"), SMALL)


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_axis_core_passes(small_test, simulator):
    code, out = run(small_test, simulator, 400)
    passed(code, out)
    assert "400 vectors, every result, tlast and tuser as expected" in out


def test_big_axis_core_passes_on_icarus(tmp_path):
    passed(*run(make(tmp_path, BIG), "icarus", 150))


def test_native_core_passes_on_icarus(tmp_path):
    code, out = run(make(tmp_path, NATIVE), "icarus", 300)
    passed(code, out)
    assert "300 vectors, every result as expected" in out


@pytest.mark.cocotb_full
def test_native_core_passes_on_verilator(tmp_path):
    code, out = run(make(tmp_path, NATIVE), "verilator", 10_000, seed=7)
    passed(code, out)
    assert "10000 vectors, every result as expected" in out


def _break(path, pattern, replacement):
    text = path.read_text()
    broken, count = re.subn(pattern, replacement, text, flags=re.M)
    assert count, pattern
    path.write_text(broken)


def test_fails_when_tlast_is_dropped(tmp_path):
    test = make(tmp_path, SMALL)
    _break(tmp_path / "vq.v", r"^(  assign m_axis_result_tlast = ).*;$", r"\g<1>1'h0;")
    code, out = run(test, "icarus", 60)
    assert code != 0
    assert "tlast is not where it was" in out, out[-4000:]


def test_fails_when_the_register_map_is_off_by_one(tmp_path, monkeypatch):
    import madvq.hdl.axi
    real = madvq.hdl.axi.register_map
    monkeypatch.setattr(madvq.hdl.axi, "register_map",
                        lambda config: [{**r, "offset": r["offset"] + 4}
                                        for r in real(config)])
    code, out = run(make(tmp_path, SMALL), "icarus", 60)
    assert code != 0
    # Register 0 is now past the map (SLVERR), or reads another register's value.
    assert re.search(r"reading MAGIC: <AxiResp\.SLVERR|MAGIC reads back wrong", out), \
        out[-4000:]


def test_fails_when_the_side_queue_is_too_shallow(tmp_path, monkeypatch):
    """The result stream's long stalls fill the queues: a side queue one entry short loses
    a vector's tuser/tlast."""
    import madvq.hdl.axi
    from amaranth.lib import fifo

    def shallow(self):
        return fifo.SyncFIFO(width=1 + self.config.user_width,
                             depth=self.config.core.result_queue_depth - 1)
    monkeypatch.setattr(madvq.hdl.axi.AXIStreamMADCore, "framing_queue", shallow)
    code, out = run(make(tmp_path, SMALL), "icarus", 400)
    assert code != 0
    assert re.search(r"tlast is not where it was|tuser of vectors", out), out[-4000:]


def test_native_fails_on_a_wrong_index(tmp_path):
    test = make(tmp_path, NATIVE)
    _break(tmp_path / "vq.v", r"^(  assign result_index = )(.*);$", r"\g<1>~(\g<2>);")
    code, out = run(test, "icarus", 40)
    assert code != 0
    assert "results differ from the golden model" in out, out[-4000:]


@pytest.mark.cocotb_full
@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
@pytest.mark.parametrize("config", [BIG, SMALL], ids=["16x16x8", "5x3x6s-p2"])
def test_ten_thousand_vectors(config, simulator, tmp_path):
    code, out = run(make(tmp_path, config), simulator, 10_000, seed=7)
    passed(code, out)
    assert "10000 vectors, every result, tlast and tuser as expected" in out

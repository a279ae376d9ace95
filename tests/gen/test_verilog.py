import json
import re

import pytest

from madvq.hdl.config import CoreConfig
from madvq.gen.verilog import generate, interface
from madvq.hdl.export import VERILOG_KEYWORDS, check_name, simulation_models, verilog_text
from madvq.hdl.ecp5_cells import ccu2c_model
from madvq.hdl.tools import run_yosys


LINT_CONFIGS = [
    CoreConfig(),
    CoreConfig(dims=3, templates=5, width=4, signed=True, templates_per_cycle=2,
               distances=True),
    CoreConfig(dims=3, templates=16, width=12, templates_per_cycle=3, storage="ram"),
    CoreConfig(dims=1, templates=1, width=1),
]


def test_same_parameters_give_identical_files(tmp_path):
    cfg = CoreConfig(dims=3, templates=5, width=4, templates_per_cycle=2)
    a = generate(cfg, path=tmp_path / "a" / "core.v")
    b = generate(cfg, path=tmp_path / "b" / "core.v")
    assert a[0].read_bytes() == b[0].read_bytes()
    assert a[1].read_bytes() == b[1].read_bytes()
    assert verilog_text(cfg) != verilog_text(CoreConfig(dims=3, templates=5, width=4))


@pytest.mark.parametrize("cfg", LINT_CONFIGS, ids=lambda c: c.default_name)
def test_no_escaped_identifiers_and_plain_ports(cfg):
    text = verilog_text(cfg)
    assert "\\" not in text
    header = re.search(rf"^module {cfg.default_name}\((.*?)\);$", text, re.M).group(1)
    ports = [p.strip() for p in header.split(",")]
    desc = interface(cfg)
    assert ports == [p["name"] for p in desc["ports"]]
    for name in ports:
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", name)
        assert name not in VERILOG_KEYWORDS
    for p in desc["ports"]:
        decl = re.search(rf"^\s*(input|output)\s*(\[(\d+):0\])?\s*{p['name']};$", text, re.M)
        assert decl.group(1) == p["direction"]
        assert (int(decl.group(3)) + 1 if decl.group(2) else 1) == p["width"]


def test_interface_json(tmp_path):
    cfg = CoreConfig(dims=3, templates=5, width=4, signed=True, templates_per_cycle=2,
                     distances=True)
    _, json_path = generate(cfg, name="vq", path=tmp_path / "vq.v")
    assert json_path == tmp_path / "vq.json"
    desc = json.loads(json_path.read_text())
    assert desc["parameters"] == cfg.to_dict()
    assert desc["latency_cycles"] == cfg.latency_cycles
    assert desc["cycles_per_vector"] == 3
    assert desc["distance_width"] == 6
    ports = {(p["stream"], p["role"]): p for p in desc["ports"]}
    # Every port named once, by its stream and its role in it; the name says the same.
    assert len(ports) == len(desc["ports"]) == 17
    for (stream, role), port in ports.items():
        expected = {(None, "clock"): "clk", (None, "reset"): "rst",
                    ("active_templates", "count"): "active_templates"}.get((stream, role))
        assert port["name"] == (expected or f"{stream}_{role}")
    assert ports["vector", "data"]["width"] == 12
    assert ports["result", "distances"]["width"] == 5 * 6
    assert ports["result", "index"]["direction"] == "output"
    assert ports["result", "ready"]["direction"] == "input"


def test_default_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path, json_path = generate(CoreConfig(dims=2, templates=2, width=2))
    assert path == tmp_path.joinpath("build", "madvq_2x2x2u_p2.v").relative_to(tmp_path)
    assert json_path.is_file()


@pytest.mark.parametrize("name", ["2core", "my-core", "a b", "", "module", "dist"])
def test_bad_module_names(name):
    with pytest.raises(ValueError, match=r"^module name must"):
        check_name(name)


@pytest.mark.parametrize("cfg", LINT_CONFIGS, ids=lambda c: c.default_name)
def test_yosys_reads_the_verilog_cleanly(cfg, tmp_path):
    """Yosys (the full YoWASP build, not the one inside Amaranth) reads the file, finds the
    whole hierarchy, turns every process into logic without a latch, and finds nothing to
    warn about."""
    generate(cfg, path=tmp_path / "core.v")
    log = run_yosys(f"read_verilog core.v; hierarchy -check -top {cfg.default_name}; proc; "
                    f"check -assert; stat", tmp_path)
    assert "Latch inferred" not in log
    assert not re.search(r"^Warning", log, re.M), log
    # The design is not empty: stat counts the top's cells (Yosys 0.70: "N cells").
    counts = [int(n) for n in re.findall(r"^\s*(\d+)\s+cells$", log, re.M)]
    assert counts and counts[-1] > 0, log


@pytest.mark.parametrize("cfg", LINT_CONFIGS + [CoreConfig(dims=3, templates=3, width=4,
                                                           templates_per_cycle=2,
                                                           arithmetic="ecp5")],
                         ids=lambda c: c.default_name)
def test_no_process_waits_for_time_zero(cfg):
    """Every process has become flip-flops and continuous assignments: no `always @*` block,
    which an event-driven simulator would not run at time zero (tests/sim/test_conformance.py
    runs the Verilog in Icarus with the reset held from time zero)."""
    text = verilog_text(cfg)
    assert "always @*" not in text
    assert re.search(r"^\s*assign ", text, re.M)
    assert re.search(r"always @\(posedge clk\)", text)


def test_ecp5_cores_come_with_their_cell_model(tmp_path):
    cfg = CoreConfig(dims=3, templates=3, width=4, templates_per_cycle=2, arithmetic="ecp5")
    path, json_path = generate(cfg, path=tmp_path / "vq.v")
    assert "CCU2C #(" in path.read_text()
    assert (tmp_path / "CCU2C.v").read_text() == ccu2c_model()
    assert json.loads(json_path.read_text())["simulation_models"] == ["CCU2C.v"]
    assert simulation_models(CoreConfig()) == {}
    generic, _ = generate(CoreConfig(dims=2, templates=2, width=2), path=tmp_path / "g" / "g.v")
    assert sorted(p.name for p in generic.parent.iterdir()) == ["g.json", "g.v"]

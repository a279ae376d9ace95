"""The exported Verilog and interface JSON of top-K cores (``top_k`` > 1)."""

import json
import re

import pytest

from madvq.gen.verilog import generate, interface
from madvq.hdl.config import CoreConfig
from madvq.hdl.export import verilog_text
from madvq.hdl.tools import run_yosys


TOPK_CONFIGS = [
    CoreConfig(dims=3, templates=5, width=4, signed=True, templates_per_cycle=2,
               distances=True, top_k=3),
    CoreConfig(dims=4, templates=6, width=4, top_k=6),
]


def test_interface_json(tmp_path):
    cfg = TOPK_CONFIGS[0]
    _, json_path = generate(cfg, name="vq", path=tmp_path / "vq.v")
    desc = json.loads(json_path.read_text())
    assert desc["parameters"] == cfg.to_dict()
    assert desc["parameters"]["top_k"] == desc["top_k"] == 3
    assert desc["latency_cycles"] == cfg.latency_cycles
    assert desc["none_slot"]["index"] == 7 and desc["none_slot"]["distance"] == 63
    assert "slot k at [k*index_width +: index_width]" in desc["lane_bits"]
    ports = {(p["stream"], p["role"]): p for p in desc["ports"]}
    assert ports["result", "index"]["width"] == 3 * 3
    assert ports["result", "distance"]["width"] == 3 * 6


def test_single_winner_json_has_no_top_k(tmp_path):
    desc = interface(CoreConfig(dims=2, templates=3, width=2))
    assert "top_k" not in desc and "none_slot" not in desc
    assert "top_k" not in desc["parameters"]


@pytest.mark.parametrize("cfg", TOPK_CONFIGS, ids=lambda c: c.default_name)
def test_ports_and_processes(cfg, tmp_path):
    text = verilog_text(cfg)
    assert "\\" not in text
    assert "always @*" not in text
    for p in interface(cfg)["ports"]:
        decl = re.search(rf"^\s*(input|output)\s*(\[(\d+):0\])?\s*{p['name']};$", text, re.M)
        assert (int(decl.group(3)) + 1 if decl.group(2) else 1) == p["width"]
    generate(cfg, path=tmp_path / "core.v")
    log = run_yosys(f"read_verilog core.v; hierarchy -check -top {cfg.default_name}; proc; "
                    f"check -assert; stat", tmp_path)
    assert "Latch inferred" not in log
    assert not re.search(r"^Warning", log, re.M), log

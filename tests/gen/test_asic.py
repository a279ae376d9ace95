"""The ASIC estimate: logic depth on a netlist whose depths are known, the toggle counter
on a circuit whose activity is known by hand (and a broken counter and a broken circuit
caught by the same check), the adder cross-check, the whole flow on a small core, and the
command line."""

import json
import math
import re

import numpy as np
import pytest

from madvq.gen import asic
from madvq.gen.asic import (GateNetlist, NODE_45NM, adder_check,
                            check_estimate, check_gates, estimate, map_to_gates,
                            probed_verilog, scaled_energy, write_report)
from madvq.hdl.config import CoreConfig
from madvq.sim import toggles
from madvq.sim.toggles import ToggleCounter
from cli_helpers import run


# A core with P < M (two rounds per vector), small enough to build in seconds.
SMALL = CoreConfig(dims=2, templates=3, width=3, templates_per_cycle=2)


@pytest.mark.parametrize("gates", ["AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX", "cmos2",
                                   "simple,-MUX", "all,-NMUX,-AOI3"])
def test_gate_sets(gates):
    assert check_gates(gates) == gates


@pytest.mark.parametrize("gates", ["", "NAND,", "FOO", "-NAND", "nand", None])
def test_bad_gate_sets(gates):
    with pytest.raises(ValueError, match=r"^gates must be a comma-separated list of ABC gate "
                                         r"types \(AND, NAND, .*, not "):
        check_gates(gates)


def _cell(kind, inputs, output):
    ports = {"$_DFF_P_": ("D",), "$_NOT_": ("A",)}.get(kind, ("A", "B"))
    connections = dict(zip(ports, ([b] for b in inputs)))
    directions = {p: "input" for p in ports}
    if kind == "$_DFF_P_":
        connections["C"], directions["C"] = [2], "input"
    return {"type": kind, "connections": {**connections, "Q" if kind == "$_DFF_P_" else "Y":
                                          [output]},
            "port_directions": {**directions, "Q" if kind == "$_DFF_P_" else "Y": "output"}}


def _netlist(cells):
    ports = {"clk": {"direction": "input", "bits": [2]},
             "i": {"direction": "input", "bits": [3]},
             "o": {"direction": "output", "bits": [4]}}
    return {"modules": {"t": {"ports": ports, "cells": {f"c{k}": c
                                                          for k, c in enumerate(cells)}}}}


def test_depth_of_a_known_netlist():
    # Input i -> NOT -> flip-flop; that flip-flop -> NOT -> NOT -> AND (with i) -> a second
    # flip-flop -> a third, directly; an XOR of the third and i drives output o.
    netlist = _netlist([
        _cell("$_NOT_", [3], 10), _cell("$_DFF_P_", [10], 11),            # in -> 1 -> reg
        _cell("$_NOT_", [11], 12), _cell("$_NOT_", [12], 13),
        _cell("$_AND_", [13, 3], 14), _cell("$_DFF_P_", [14], 15),        # reg -> 3 -> reg
        _cell("$_DFF_P_", [15], 16),                                       # reg -> 0 -> reg
        _cell("$_XOR_", [16, 3], 4),                                       # both -> 1 -> out
    ])
    gates = GateNetlist(netlist, "t")
    assert gates.depth() == {"reg_to_reg": 3, "in_to_reg": 1, "reg_to_out": 1, "in_to_out": 1}
    assert gates.flip_flops == 3 and gates.gates == 5
    assert gates.transistors() == 3 * 16 + 3 * 2 + 6 + 12
    assert gates.fanout()[3] == 3 and gates.fanout()[4] == 1

    # Without the registers' feedback there is no register-to-register path at all.
    only_logic = _netlist([_cell("$_NOT_", [3], 4)])
    assert GateNetlist(only_logic, "t").depth() == {
        "reg_to_reg": None, "in_to_reg": None, "reg_to_out": None, "in_to_out": 1}

    loop = _netlist([_cell("$_AND_", [3, 5], 6), _cell("$_NOT_", [6], 5),
                     _cell("$_NOT_", [6], 4)])
    with pytest.raises(ValueError, match=r"^the netlist has a combinational loop$"):
        GateNetlist(loop, "t").depth()


COUNTER = """
module counter(clk, rst, a, q, y);
  input clk;
  input rst;
  input a;
  output [5:0] q;
  output y;
  reg [5:0] q;
  always @(posedge clk)
    if (rst) q <= 6'd0;
    else q <= q + 6'd{step};
  assign y = a ^ q[0];
endmodule
"""

CYCLES = 64


def _counter_run(tmp_path, step=1):
    """The counter (adding ``step``) mapped to gates, probed and run: reset in cycle 0, then
    64 counting cycles, ``a`` alternating every cycle; toggles counted in cycles 1..64.
    Returns the activity and the probe index of each net named ``q[k]`` and ``y``."""
    netlist, _ = map_to_gates(COUNTER.format(step=step), "counter", tmp_path)
    verilog, types = probed_verilog(netlist, "counter", tmp_path)
    cells = GateNetlist(netlist, "counter").cells
    names = netlist["modules"]["counter"]["netnames"]
    where = {cell[3]: i for i, cell in enumerate(cells)}
    # A bit that synthesis found constant has no cell, and never toggles (None).
    probes = {f"q[{k}]": where.get(b) for k, b in enumerate(names["q"]["bits"])}
    probes["y"] = where.get(names["y"]["bits"][0])
    ports = [{"name": "clk", "direction": "input", "width": 1},
             {"name": "rst", "direction": "input", "width": 1},
             {"name": "a", "direction": "input", "width": 1},
             {"name": "q", "direction": "output", "width": 6},
             {"name": "y", "direction": "output", "width": 1},
             {"name": "probe", "direction": "output", "width": len(types)}]
    counter = ToggleCounter(verilog, "counter", ports)
    c = np.arange(CYCLES + 2)
    activity = counter.run({"rst": c == 0, "a": c % 2}, CYCLES + 2, (1, CYCLES + 1))
    return activity, probes, types


def _counter_problems(activity, probes):
    """What differs from the hand count: in 64 cycles from 0, q[k] toggles 64 / 2**k times
    (2**-k per cycle); y = a ^ q[0] toggles twice per cycle (a changes when the inputs are
    applied, q[0] at the clock edge, so y's value before each edge never changes)."""
    problems = []
    q = activity.value("q")
    if not np.array_equal(q[1:CYCLES + 2], np.arange(CYCLES + 1) % 64):
        problems.append(f"q counts {q[:8].tolist()}...")
    def count(net):
        return 0 if probes[net] is None else int(activity.toggles[probes[net]])
    for k in range(6):
        got = count(f"q[{k}]")
        if got != CYCLES >> k:
            problems.append(f"q[{k}] toggled {got} times, not {CYCLES >> k}")
    got = count("y")
    if got != 2 * CYCLES:
        problems.append(f"y toggled {got} times, not {2 * CYCLES}")
    return problems


def test_toggles_of_a_counter(tmp_path):
    activity, probes, types = _counter_run(tmp_path)
    assert _counter_problems(activity, probes) == []
    assert activity.window == (1, CYCLES + 1) and activity.cycles == CYCLES
    assert types.count("$_DFF_P_") == 6
    # Every flip-flop is a q bit: they add up to 2 - 2**-5 toggles per cycle.
    ff_toggles = sum(int(n) for n, t in zip(activity.toggles, types) if t == "$_DFF_P_")
    assert ff_toggles == sum(CYCLES >> k for k in range(6))
    assert activity.per_cycle == pytest.approx(activity.toggles.sum() / CYCLES)


def test_the_check_catches_a_broken_toggle_counter(tmp_path, monkeypatch):
    # The counter only compares the values after each clock edge (the inputs' half of a
    # cycle forgotten): y's two changes per cycle cancel out and go unseen.
    text = toggles._TEMPLATE.read_text()
    half = "        compare(now.data(), before.data(), toggles, count);\n"
    assert text.count(half) == 2
    broken = tmp_path / "broken_harness.cpp"
    broken.write_text(text.replace(half, "", 1))
    monkeypatch.setattr(toggles, "_TEMPLATE", broken)
    activity, probes, _ = _counter_run(tmp_path)
    assert _counter_problems(activity, probes) == [f"y toggled 0 times, not {2 * CYCLES}"]


def test_the_check_catches_a_broken_counter(tmp_path):
    # A counter that adds 2: q[0] never toggles, q[k] toggles as q[k-1] should.
    activity, probes, _ = _counter_run(tmp_path, step=2)
    problems = _counter_problems(activity, probes)
    assert "q[0] toggled 0 times, not 64" in problems and len(problems) >= 6


def test_adder_cross_check(tmp_path):
    check = adder_check(8, tmp_path, samples=512)
    assert check["width"] == 8 and check["horowitz_pj"] == pytest.approx(0.03)
    assert 16 <= check["gates"] <= 80
    # Random operands: about half of the adder's nodes change per addition.
    assert 0.2 * check["gates"] < check["toggles_per_add"] < check["gates"]
    assert check["energy_per_add_pj"] == pytest.approx(
        check["toggles_per_add"] * NODE_45NM.energy_per_toggle * 1e12, rel=1e-3)
    # The estimate claims a factor of 3; on the adder it must hold.
    assert 1 / 3 < check["ratio_to_horowitz"] < 3


def test_energy_constants():
    assert NODE_45NM.energy_per_toggle == pytest.approx(0.5 * 4.95e-15 * 0.81)
    assert NODE_45NM.clock_pin_energy == pytest.approx(1.65e-15 * 0.81)
    assert asic.ANALOG["energy_per_vector_j"] == pytest.approx(2.1e-9)
    assert asic.ANALOG["vectors_per_second"] == pytest.approx(333_333.3, rel=1e-6)
    # 45 nm -> 2 um is 44.4x the capacitance, 0.9 V -> 5 V 30.9x the energy per charge.
    assert scaled_energy(1e-12, NODE_45NM, 2000, 5.0) == pytest.approx(
        1e-12 * 2000 / 45 * (5 / 0.9) ** 2)


def test_estimate_of_a_small_core(tmp_path):
    r = estimate(SMALL, tmp_path, vectors=60, image_vectors=300, cross_check=False)
    assert r["device"] == "asic" and r["gate_set"] == asic.DEFAULT_GATES
    assert r["templates_per_cycle"] == 2 and r["cycles_per_vector"] == 2
    assert r["gates"] > 0 and r["ffs"] > 0 and r["cells"] == r["gates"] + r["ffs"]
    assert sum(r["gates_by_type"].values()) == r["gates"]
    assert sum(r["transistors_by_type"].values()) == r["transistors"]
    assert r["transistors_by_type"]["DFF_P"] == 16 * r["ffs"]
    # Our walk of the netlist and Yosys' ltp agree on the longest path of any kind.
    depth = r["depth"]
    assert 0 < r["logic_depth"] == depth["reg_to_reg"]
    assert depth["ltp_noff"] == max(v for k, v in depth.items()
                                    if k != "ltp_noff" and v is not None)
    for key, vectors in (("random", 60), ("image", 300)):
        a = r[key]
        assert a["vectors"] == vectors
        assert a["cycles"] == vectors * 2 - SMALL.latency_cycles - 1
        assert 0 < a["toggles_per_cycle"] < 2 * r["cells"]
        assert a["toggles_per_cycle"] == pytest.approx(
            a["flip_flop_toggles_per_cycle"] + a["gate_toggles_per_cycle"], abs=0.11)
        assert a["energy_per_vector_pj"] == pytest.approx(
            a["toggles_per_cycle"] * 2 * NODE_45NM.energy_per_toggle * 1e12, rel=5e-3)
    assert r["image"]["block"] == "1x2"
    assert r["clock_energy_per_vector_pj"] == pytest.approx(
        r["ffs"] * NODE_45NM.clock_pin_energy * 2 * 1e12, abs=0.01)
    assert r["analog_over_digital_image"] == pytest.approx(
        2100 / r["energy_per_vector_image_pj"], rel=0.01)
    assert r["cross_check"] == []

    paths = write_report(r, tmp_path / "out", "small", command="madvq report --device asic")
    assert [p.suffix for p in paths] == [".csv", ".json", ".md"]
    header, row = (tmp_path / "out" / "small.csv").read_text().splitlines()
    assert header.split(",") == asic.ASIC_FIELDS and row.split(",")[9] == "asic"
    assert json.loads(paths[1].read_text())["record"]["transistors"] == r["transistors"]
    assert "| 2x3x3u | 2 |" in paths[2].read_text()


def test_a_wrong_netlist_is_caught(tmp_path, monkeypatch):
    # Results that differ from the golden model are reported, not measured.
    real = asic.golden.classify

    def shifted(config, codebook, vectors, active=None):
        result = real(config, codebook, vectors, active)
        result.distance = result.distance + 1
        return result
    monkeypatch.setattr(asic.golden, "classify", shifted)
    with pytest.raises(asic.MismatchError, match=r"first difference from the golden model "
                                                 r"at vector 0"):
        estimate(SMALL, tmp_path, vectors=60, image_vectors=300, cross_check=False)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(config=CoreConfig(dims=2, templates=2, arithmetic="ecp5")), ValueError,
     r"^an ASIC estimate needs arithmetic 'generic', not 'ecp5'"),
    (dict(config={"dims": 2}), TypeError, r"^config must be a CoreConfig"),
    (dict(gates="FOO"), ValueError, r"^gates must be"),
    (dict(vectors=3), ValueError, r"^vectors must be an integer of at least 6 \(enough to "
                                  r"fill the pipeline of 9 cycles\), not 3$"),
    (dict(image_vectors=2.5), ValueError, r"^image_vectors must be an integer"),
    (dict(seed=-1), ValueError, r"^seed must be a non-negative integer, not -1$"),
])
def test_bad_estimate_arguments(tmp_path, kwargs, error, message):
    config = kwargs.pop("config", SMALL)
    with pytest.raises(error, match=message):
        check_estimate(config, **kwargs)
    with pytest.raises(error, match=message):
        estimate(config, tmp_path, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_report_asic(capsys, tmp_path):
    out = tmp_path / "report"
    code, stdout, err = run(capsys, "report", "--device", "asic", "--dims", "2",
                            "--templates", "3", "--width", "3", "--templates-per-cycle", "2",
                            "--vectors", "60", "-o", out)
    assert code == 0, err
    assert re.search(r"madvq_2x3x3u_p2 as gates \(AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX; "
                     r"Yosys synth, abc -g\): [\d,]+ gates", stdout)
    assert re.search(r"logic depth: \d+ gates flip-flop to flip-flop", stdout)
    assert re.search(r"random data \(60 vectors, 110 cycles counted\): [\d.,]+ toggles per "
                     r"cycle", stdout)
    assert re.search(r"photograph \([\d,]+ vectors, 1x2 blocks", stdout)
    assert re.search(r"cross-check: 8-bit adder, \d+ gates, [\d.]+ toggles per add, "
                     r"[\d.]+ pJ vs Horowitz 0.03 pJ", stdout)
    assert "32-bit adder" in stdout and "2.1 nJ per vector" in stdout
    stem = out / "madvq_2x3x3u_p2_asic"
    record = json.loads(stem.with_suffix(".json").read_text())
    assert record["command"].startswith("madvq report --device asic")
    assert record["record"]["random"]["vectors"] == 60
    assert stem.with_suffix(".csv").is_file() and stem.with_suffix(".md").is_file()
    assert math.isfinite(record["record"]["energy_per_vector_image_pj"])

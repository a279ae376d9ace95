"""The files of a core's Verilog export: the Verilog and its interface description.

``generate(config, name, path)`` writes ``path`` (the text of
:func:`madvq.hdl.export.verilog_text`: Verilog-2005, one module per Amaranth component, no
escaped identifiers, no attributes but ``(* keep *)`` on the registers that must not be
merged) and ``path`` with suffix ``.json`` (the interface: parameters, latency, cycles per
vector, widths and every port with its role).
The same configuration and name always give byte-identical files.

``config`` is a :class:`~madvq.hdl.config.CoreConfig` (the native valid/ready interface,
:class:`~madvq.hdl.ports.FlatMADCore`) or a :class:`~madvq.hdl.bus.AXIConfig` (AXI4-Stream
and AXI4-Lite, :class:`~madvq.hdl.axi.AXIStreamTop`); its JSON also has the byte layouts of
the streams and the register map. ``generate`` can also write a FuseSoC core file
(:mod:`madvq.gen.fusesoc`) and a cocotb test (:mod:`madvq.gen.cocotb_bench`) beside them.
"""

import json
from pathlib import Path

from madvq.hdl.bus import AXIConfig, register_map
from madvq.hdl.export import (check_name, core_config, simulation_models, top_ports,
                              verilog_text)
from .files import check_output_file, write_atomically


__all__ = ["interface", "generate", "companion_files", "TESTBENCHES"]


def interface(config, name=None):
    """The interface description written beside the Verilog."""
    core = core_config(config)
    name = check_name(config.default_name if name is None else name)
    desc = {
        "module": name,
        "bus": "axis" if isinstance(config, AXIConfig) else "native",
        "parameters": core.to_dict(),
        "latency_cycles": config.latency_cycles,
        "cycles_per_vector": core.cycles_per_vector,
        "distance_width": core.distance_width,
        "index_width": core.index_width,
        "value_range": [core.value_min, core.value_max],
        "lane_bits": "lane i of vector_data and codebook_data sits at bits [i*width +: width]; "
                     "result_distances holds template j at [j*distance_width +: distance_width]",
        "ports": top_ports(config),
        "simulation_models": sorted(simulation_models(config)),
    }
    if core.top_k > 1:
        # Only for K > 1: a single-winner core's description stays as it was.
        desc["top_k"] = core.top_k
        desc["lane_bits"] += (f"; result_index and result_distance hold the {core.top_k} "
                              "nearest active templates, nearest first (ties to the lower "
                              "index): slot k at [k*index_width +: index_width] and "
                              "[k*distance_width +: distance_width]")
        desc["none_slot"] = {
            "meaning": "a slot k >= m (fewer active templates m than top_k) holds no template",
            "index": core.none_index, "distance": core.none_distance}
    if isinstance(config, AXIConfig):
        desc["lane_bits"] = ("lane i of s_axis_vector_tdata and s_axis_codebook_tdata sits at "
                             "bits [i*width +: width]; every tdata is padded to whole bytes")
        desc["user_width"] = config.user_width
        desc["result_queue_depth"] = core.result_queue_depth
        desc["byte_layout"] = config.byte_layout()
        desc["register_map"] = register_map(config)
    return desc


TESTBENCHES = ("cocotb",)


def companion_files(name, path, *, fusesoc=False, testbench=None):
    """The files ``generate`` writes beside the Verilog at ``path`` besides the JSON and the
    device models: ``{"core": <stem>.core, "testbench": <stem>_tb.v}`` with ``fusesoc``,
    ``{"cocotb": test_<name>.py}`` with ``testbench="cocotb"`` (named after the module: a
    Python module name)."""
    from .cocotb_bench import test_file_name
    if testbench not in (None, *TESTBENCHES):
        raise ValueError(f"testbench must be one of {', '.join(TESTBENCHES)}, "
                         f"not {testbench!r}")
    path = Path(path)
    files = {}
    if fusesoc:
        files["core"] = path.with_suffix(".core")
        files["testbench"] = path.with_name(f"{path.stem}_tb.v")
    if testbench == "cocotb":
        files["cocotb"] = path.with_name(test_file_name(name))
    return files


def generate(config, name=None, path=None, *, fusesoc=False, testbench=None):
    """Write the Verilog (``path`` ends in ``.v`` or ``.sv``), its ``.json`` interface and,
    beside them, the simulation models of the device cells it instantiates
    (:func:`simulation_models`); return the paths of the Verilog and of the interface. The
    paths are checked before the core is elaborated, and each file is written whole or not
    at all.

    ``fusesoc=True`` also writes a FuseSoC core file and the self-checking Verilog
    testbench its ``sim`` target runs; ``testbench="cocotb"`` a cocotb test (see
    :func:`companion_files` for their names)."""
    from .cocotb_bench import cocotb_test_text
    from .fusesoc import core_file_text
    from .verilog_bench import verilog_testbench
    name = check_name(config.default_name if name is None else name)
    core_config(config)
    path = Path("build") / f"{name}.v" if path is None else Path(path)
    path = check_output_file(path, "Verilog file", (".v", ".sv"))
    json_path = check_output_file(path.with_suffix(".json"), "interface file")
    extras = companion_files(name, path, fusesoc=fusesoc, testbench=testbench)
    for kind, extra in extras.items():
        check_output_file(extra, {"core": "FuseSoC core file", "testbench": "testbench",
                                  "cocotb": "cocotb test"}[kind])
    text = verilog_text(config, name)
    desc = json.dumps(interface(config, name), indent=2) + "\n"
    models = simulation_models(config)
    texts = {}
    if fusesoc:
        core = core_config(config)
        # Enough vectors to fill the result queue while the results are blocked, and more.
        vectors = max(64, 3 * core.result_queue_depth)
        tb = verilog_testbench(config, name, vectors=vectors)
        texts["testbench"] = tb
        texts["core"] = core_file_text(config, name, path.name, sorted(models),
                                       extras["testbench"].name)
    if testbench == "cocotb":
        texts["cocotb"] = cocotb_test_text(config, name, path.name, json_path.name)
    write_atomically(path, lambda f: f.write(text.encode()))
    write_atomically(json_path, lambda f: f.write(desc.encode()))
    for model, model_text in models.items():
        write_atomically(path.parent / model, lambda f, t=model_text: f.write(t.encode()))
    for kind, extra in extras.items():
        write_atomically(extra, lambda f, t=texts[kind]: f.write(t.encode()))
    return path, json_path

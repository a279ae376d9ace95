"""Verilog export of a core and its interface description.

``generate(config, name, path)`` writes ``path`` (Verilog-2005, one module per Amaranth
component, no escaped identifiers, no attributes but ``(* keep *)`` on the registers that
must not be merged) and ``path`` with suffix ``.json`` (the interface: parameters, latency,
cycles per vector, widths and every port with its role).
The same configuration and name always give byte-identical files.

``config`` is a :class:`~madvq.hdl.config.CoreConfig` (the native valid/ready interface,
:class:`~madvq.hdl.ports.FlatMADCore`) or a :class:`~madvq.hdl.bus.AXIConfig` (AXI4-Stream
and AXI4-Lite, :class:`~madvq.hdl.axi.AXIStreamTop`); its JSON also has the byte layouts of
the streams and the register map. ``generate`` can also write a FuseSoC core file
(:mod:`madvq.gen.fusesoc`) and a cocotb test (:mod:`madvq.gen.cocotb_bench`) beside them.
"""

import json
import re
import tempfile
from pathlib import Path

from amaranth.back import rtlil

from madvq.hdl.bus import AXIConfig, axi_port_table, register_map
from madvq.hdl.ecp5_cells import ccu2c_model
from madvq.hdl.config import CoreConfig, Target
from madvq.hdl.ports import FlatMADCore, port_table
from madvq.hdl.registers import COPY_ATTRIBUTE
from .files import check_output_file, write_atomically
from .tools import run_yosys


__all__ = ["verilog_text", "simulation_models", "interface", "generate", "VERILOG_KEYWORDS",
           "check_name", "top_ports", "top_component", "companion_files", "TESTBENCHES"]


# Verilog-2005 and SystemVerilog-2017 reserved words: no name we emit may be one of them.
VERILOG_KEYWORDS = frozenset("""
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic
before begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle
checker class clocking cmos config const constraint context continue cover covergroup
coverpoint cross deassign default defparam design disable dist do edge else end endcase
endchecker endclass endclocking endconfig endfunction endgenerate endgroup endinterface
endmodule endpackage endprimitive endprogram endproperty endspecify endsequence endtable
endtask enum event eventually expect export extends extern final first_match for force
foreach forever fork forkjoin function generate genvar global highz0 highz1 if iff ifnone
ignore_bins illegal_bins implements implies import incdir include initial inout input inside
instance int integer interconnect interface intersect join join_any join_none large let
liblist library local localparam logic longint macromodule matches medium modport module
nand negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1 null or output
package packed parameter pmos posedge primitive priority program property protected pull0
pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase
randsequence rcmos real realtime ref reg reject_on release repeat restrict return rnmos
rpmos rtran rtranif0 rtranif1 s_always s_eventually s_nexttime s_until s_until_with
scalared sequence shortint shortreal showcancelled signed small soft solve specify
specparam static string strong strong0 strong1 struct super supply0 supply1 sync_accept_on
sync_reject_on table tagged task this throughout time timeprecision timeunit tran tranif0
tranif1 tri tri0 tri1 triand trior trireg type typedef union unique unique0 unsigned until
until_with untyped use uwire var vectored virtual void wait wait_order wand weak weak0 weak1
while wildcard wire with within wor xnor xor
""".split())

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# An RTLIL public identifier: a backslash at the start of a token, up to the next blank.
_RTLIL_ID = re.compile(r"(?<![^\s])\\(\S+)")


def check_name(name):
    """``name`` if it is usable as the module name; ``ValueError`` otherwise."""
    if not isinstance(name, str) or not _PLAIN.match(name):
        raise ValueError(f"module name must be a plain Verilog identifier (letters, digits, "
                         f"underscores, not starting with a digit), not {name!r}")
    if name in VERILOG_KEYWORDS:
        raise ValueError(f"module name must not be a Verilog/SystemVerilog keyword, "
                         f"not {name!r}")
    return name


def _plain_names(rtlil_text):
    """Rename every identifier that would need escaping in Verilog (Amaranth's hierarchical
    ``a.b`` names, ``x$3`` duplicates, ``v[0]`` view fields) to a plain one, keeping names
    that are plain already and keeping all names distinct."""
    names = dict.fromkeys(_RTLIL_ID.findall(rtlil_text))
    taken = {n for n in names if _PLAIN.match(n) and n not in VERILOG_KEYWORDS}
    mapping = {}
    for name in names:
        if name in taken:
            continue
        base = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "n"
        if not _PLAIN.match(base) or base in VERILOG_KEYWORDS:
            base = "n_" + base
        new, k = base, 1
        while new in taken:
            k += 1
            new = f"{base}_{k}"
        taken.add(new)
        mapping[name] = new
    return _RTLIL_ID.sub(lambda m: "\\" + mapping.get(m.group(1), m.group(1)), rtlil_text)


# An attribute instance, alone on its line as write_verilog prints them.
_ATTRIBUTE_LINE = re.compile(r"^[ \t]*\(\*.*\*\)[ \t]*\n", re.M)


def _keep_attributes_only(text):
    """``text`` without its attribute instances, except ``(* keep *)`` on registers: the
    only one a synthesis of the core needs (Amaranth's own, ``init`` among them, say
    nothing that the Verilog does not say already)."""
    def keep_or_drop(match):
        line = match.group(0)
        if re.fullmatch(r"([ \t]*)\(\* keep = 1 \*\)[ \t]*\n", line):
            return line.replace("keep = 1", "keep")
        return ""
    text = _ATTRIBUTE_LINE.sub(keep_or_drop, text)
    # Attributes inside expressions (a multiplexer's `full_case`).
    text = re.sub(r"\(\*(?! keep \*\))[^*]*\*\) ?", "", text)
    if re.search(r"\(\*(?! keep \*\))", text):
        raise RuntimeError("Yosys wrote an attribute madvq does not expect")
    return text


def _core_config(config):
    """The :class:`CoreConfig` of ``config`` (a core, or a core behind a bus)."""
    if isinstance(config, AXIConfig):
        return config.core
    if isinstance(config, CoreConfig):
        return config
    raise TypeError(f"config must be a CoreConfig or an AXIConfig, not {config!r}")


def top_ports(config):
    """The ports of the exported top module, in order (see :func:`~madvq.hdl.ports.port_table`
    and :func:`~madvq.hdl.bus.axi_port_table`)."""
    if isinstance(config, AXIConfig):
        return axi_port_table(config)
    return port_table(_core_config(config))


def top_component(config):
    """The Amaranth component exported for ``config``."""
    if isinstance(config, AXIConfig):
        from madvq.hdl.axi import AXIStreamTop
        return AXIStreamTop(config)
    return FlatMADCore(_core_config(config))


def verilog_text(config, name=None):
    """The Verilog source of the core described by ``config`` as module ``name``."""
    core = _core_config(config)
    name = check_name(config.default_name if name is None else name)
    # ECP5 arithmetic is laid out in the family's carry cells (CCU2C instances); anything
    # else is plain HDL without device primitives.
    platform = Target("ecp5") if core.arithmetic == "ecp5" else None
    text = rtlil.convert(top_component(config), name=name, platform=platform, emit_src=False)
    text = _plain_names(text)
    script = "; ".join([
        "read_rtlil core.il",
        # Every process becomes flip-flops and continuous assignments: an event-driven
        # simulator (Icarus) does not run an `always @*` block at time zero, so one whose
        # inputs never change (a reset held from time zero) would leave its outputs X.
        "proc -norom",
        # Parallel multiplexers would be written as functions around a `casez`, whose first
        # matching arm wins when the select is X (X-optimism, and a legacy hot comment):
        # trees of `?:` propagate an X select as every simulator does.
        "pmuxtree",
        "memory_collect",
        # Register copies (hdl/registers.py) are marked on their signals: the mark goes onto
        # the registers themselves as `keep`, so that a stock synthesis does not merge them.
        f"setattr -set keep 1 w:* a:{COPY_ATTRIBUTE} %i %ci1:+$dff[Q] t:$dff %i",
        # Private names ($...) get short _N_ names; every other attribute is dropped below.
        "write_verilog -decimal core.v",
    ])
    # The full Yosys from PyPI (YoWASP), run in a folder of its own: its sandbox reads
    # relative paths reliably.
    with tempfile.TemporaryDirectory(prefix="madvq-verilog-") as work:
        Path(work, "core.il").write_text(text)
        run_yosys(script, work)
        verilog = Path(work, "core.v").read_text()
    bus = (f"// Bus: {json.dumps(config.to_dict(), sort_keys=True)}\n"
           if isinstance(config, AXIConfig) else "")
    header = (f"// {name}: madvq MAD vector-quantizer core, generated by madvq.\n"
              f"// Parameters: {json.dumps(core.to_dict(), sort_keys=True)}\n" + bus +
              f"// Latency {core.latency_cycles} cycles, one vector every "
              f"{core.cycles_per_vector} cycle(s). Interface: see the .json beside this file.\n")
    # Drop yosys' own banner, which names its version, so output depends only on the inputs.
    body = re.sub(r"\A/\*.*?\*/\n+", "", verilog, flags=re.S)
    body = _keep_attributes_only(body)
    if "always @*" in body:
        raise RuntimeError("Yosys left a process in the exported Verilog")
    # List the top module's ports in the documented order rather than yosys' own.
    order = ", ".join(port["name"] for port in top_ports(config))
    # (Yosys breaks a long port list over lines.)
    body, found = re.subn(rf"^module {name}\(.*?\);$", f"module {name}({order});", body,
                          count=1, flags=re.M | re.S)
    if not found:
        raise RuntimeError(f"no module {name} in the Verilog Yosys wrote")
    return header + "\n" + body


def simulation_models(config):
    """Verilog models of the device cells the core instantiates, as ``{file name: text}``:
    ``CCU2C.v`` for ``ecp5`` arithmetic, nothing otherwise. A simulator needs them beside the
    core; an ECP5 synthesis flow must leave them out (it has the real cells)."""
    return {"CCU2C.v": ccu2c_model()} if _core_config(config).arithmetic == "ecp5" else {}


def interface(config, name=None):
    """The interface description written beside the Verilog."""
    core = _core_config(config)
    name = check_name(config.default_name if name is None else name)
    desc = {
        "module": name,
        "bus": "axis" if isinstance(config, AXIConfig) else "native",
        "parameters": core.to_dict(),
        "latency_cycles": core.latency_cycles,
        "cycles_per_vector": core.cycles_per_vector,
        "distance_width": core.distance_width,
        "index_width": core.index_width,
        "value_range": [core.value_min, core.value_max],
        "lane_bits": "lane i of vector_data and codebook_data sits at bits [i*width +: width]; "
                     "result_distances holds template j at [j*distance_width +: distance_width]",
        "ports": top_ports(config),
        "simulation_models": sorted(simulation_models(config)),
    }
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
    _core_config(config)
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
        core = _core_config(config)
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

"""Verilog export of a core: the text of the module ``generate`` writes, and the models of
the device cells it instantiates.

:func:`verilog_text` elaborates the top component of a configuration (the native
valid/ready interface, :class:`~madvq.hdl.ports.FlatMADCore`, or the AXI4-Stream top of an
:class:`~madvq.hdl.bus.AXIConfig`), renames every identifier that Verilog would need escaped,
and has YoWASP Yosys write Verilog-2005 without processes (no ``always @*``: an event-driven
simulator would not evaluate one at time zero), without ``casez`` multiplexers and without
attributes but ``(* keep *)`` on the register copies that a synthesis must not merge. The
same configuration and name always give the same text. The simulators
(:mod:`madvq.sim`) run this text; :mod:`madvq.gen.verilog` writes it to files with its
interface description.
"""

import json
import re
import tempfile
from pathlib import Path

from amaranth.back import rtlil

from .bus import AXIConfig, axi_port_table
from .config import CoreConfig, Target
from .ecp5_cells import ccu2c_model
from .ports import FlatMADCore, port_table
from .registers import COPY_ATTRIBUTE
from madvq.hdl.tools import run_yosys


__all__ = ["verilog_text", "yosys_verilog", "simulation_models", "VERILOG_KEYWORDS", "check_name", "top_ports",
           "top_component", "core_config"]


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


def core_config(config):
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
    return port_table(core_config(config))


def top_component(config):
    """The Amaranth component exported for ``config``."""
    if isinstance(config, AXIConfig):
        from .axi import AXIStreamTop
        return AXIStreamTop(config)
    return FlatMADCore(core_config(config))


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


def yosys_verilog(rtlil_text):
    """The Verilog that the export writes for a design in RTLIL (Amaranth's
    ``rtlil.convert``): identifiers made plain, every process turned into flip-flops and
    continuous assignments, multiplexers as trees of ``?:``, no attributes but ``(* keep *)``
    on the registers that must not be merged, and no banner (the text depends only on the
    design). Used for the core and for parts of it proven on their own."""
    text = _plain_names(rtlil_text)
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
    # Drop yosys' own banner, which names its version, so output depends only on the inputs.
    body = re.sub(r"\A/\*.*?\*/\n+", "", verilog, flags=re.S)
    body = _keep_attributes_only(body)
    if "always @*" in body:
        raise RuntimeError("Yosys left a process in the exported Verilog")
    return body


def verilog_text(config, name=None):
    """The Verilog source of the core described by ``config`` as module ``name``."""
    core = core_config(config)
    name = check_name(config.default_name if name is None else name)
    # ECP5 arithmetic is laid out in the family's carry cells (CCU2C instances); anything
    # else is plain HDL without device primitives.
    platform = Target("ecp5") if core.arithmetic == "ecp5" else None
    text = rtlil.convert(top_component(config), name=name, platform=platform, emit_src=False)
    body = yosys_verilog(text)
    bus = (f"// Bus: {json.dumps(config.to_dict(), sort_keys=True)}\n"
           if isinstance(config, AXIConfig) else "")
    header = (f"// {name}: madvq MAD vector-quantizer core, generated by madvq.\n"
              f"// Parameters: {json.dumps(core.to_dict(), sort_keys=True)}\n" + bus +
              f"// Latency {core.latency_cycles} cycles, one vector every "
              f"{core.cycles_per_vector} cycle(s). Interface: see the .json beside this file.\n")
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
    return {"CCU2C.v": ccu2c_model()} if core_config(config).arithmetic == "ecp5" else {}

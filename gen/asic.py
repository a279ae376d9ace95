"""An ASIC estimate of a core: gates, transistors, logic depth and energy per vector.

:func:`estimate` takes a :class:`~madvq.hdl.config.CoreConfig` with ``generic`` arithmetic
and returns one record (a plain dict, like :func:`madvq.gen.synth.implement`'s):

1. **Gates.** The core's exported Verilog (:func:`madvq.hdl.export.verilog_text`, what a
   user's ASIC flow would read) is synthesised by YoWASP Yosys to simple gates: ``synth
   -flatten -noabc`` (memories become flip-flops), ``dfflegalize`` to plain positive-edge
   D flip-flops (enables and synchronous resets become gates in front of them), then
   ``abc -g`` with the gate set :data:`DEFAULT_GATES` (ABC's own default: AND, NAND, OR,
   NOR, XOR, XNOR, ANDNOT, ORNOT, MUX, plus NOT, which ABC always adds). Reported: gates by
   type, flip-flops, and the transistor count of ``stat -tech cmos`` (Yosys' table of
   transistors per gate, :data:`CMOS_TRANSISTORS`: a NAND2 is 4, a XOR 12, a MUX 12, a
   flip-flop 16).
2. **Logic depth.** The longest chain of gates from one flip-flop to the next, counted on
   the mapped netlist by :class:`GateNetlist` (a level is one gate of the set above, an
   inverter included), and apart from it the paths that start at an input port or end at
   an output port. Yosys' ``ltp -noff`` (the longest path of any kind) is kept beside it.
3. **Switching activity.** The mapped netlist gets one more output port, ``probe``, wired to
   the output of every gate and flip-flop, and is simulated by Verilator
   (:class:`madvq.sim.toggles.ToggleCounter`): the codebook is loaded, then vectors stream
   in at full rate, and every change of every gate output is counted over the cycles in
   which the whole pipeline holds real vectors (the clock net is not counted). Every result
   of the gate netlist is checked against the golden model. Two data sets: uniformly
   random vectors and templates, and the 4x4 blocks of a photograph (``grace_hopper.jpg``
   from matplotlib's sample data, grayscale, raster order) with a codebook trained on them
   by k-medians (:func:`madvq.sim.train.train_codebook`).
4. **Energy.** Energy per vector = toggles per cycle x energy per toggle x cycles per
   vector, with the energy per toggle 1/2 C V^2 of :class:`Technology` (default
   :data:`NODE_45NM`: 45 nm, 0.9 V, C = 4.95 fF per node; see there for the sources). The
   flip-flops' clock pins, which switch every cycle whatever the data, are estimated apart
   (flip-flops x C_in x V^2 per cycle); the clock tree, glitches and leakage are not.
   :func:`adder_check` applies the same counting to a plain n-bit adder and sets it beside
   Horowitz's per-operation figures at the same node, as a check of the constants.

The estimate is within a factor of about 3 either way: one effective capacitance stands for
every node (wire lengths, drive strengths and fan-outs vary), a zero-delay simulation sees no
glitches, and Yosys' generic gates are not a characterised cell library.
"""

import csv
import datetime
import io
import json
import math
import platform as _platform
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from madvq.hdl.config import CoreConfig
from madvq.hdl.ports import port_table
from madvq.sim import golden
from madvq.sim.run import MismatchError, SimulationError
from madvq.sim.packing import pack_words
from madvq.sim.toggles import ToggleCounter
from .files import write_atomically
from .synth import tool_versions
from madvq.hdl.tools import run_yosys


__all__ = ["DEFAULT_GATES", "GATE_TYPES", "GATE_SETS", "check_gates", "CMOS_TRANSISTORS",
           "Technology", "NODE_45NM", "HOROWITZ_45NM_ADD_J", "NANGATE45_INPUT_F", "ANALOG",
           "GateNetlist", "map_to_gates", "probed_verilog", "core_schedule", "core_activity",
           "random_data", "image_data", "adder_check", "minimum_vectors", "check_estimate",
           "estimate", "scaled_energy",
           "ASIC_FIELDS", "summary", "markdown_table", "write_report", "DEFAULT_VECTORS",
           "IMAGE_VECTORS"]


# -- the gates --

#: The gates ABC may use (``abc -g``): ABC's own default, every two-input gate and the
#: 2:1 multiplexer; NOT is always added.
DEFAULT_GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"
#: Gate types ``abc -g`` accepts (Yosys 0.70, ``help abc``).
GATE_TYPES = ("AND", "NAND", "OR", "NOR", "XOR", "XNOR", "ANDNOT", "ORNOT", "MUX", "NMUX",
              "AOI3", "OAI3", "AOI4", "OAI4")
#: Its named sets (``cmos2`` is NAND and NOR; ``all`` every type).
GATE_SETS = ("simple", "cmos2", "cmos3", "cmos4", "cmos", "gates", "aig", "all")

#: Transistors per cell in Yosys' ``stat -tech cmos`` (Yosys ``kernel/cost.h``,
#: ``CellCosts::cmos_gate_cost``): static CMOS, a NAND2 4, an AND2 6 (NAND + inverter), a
#: XOR 12, a MUX 12, a D flip-flop 16.
CMOS_TRANSISTORS = {
    "$_BUF_": 1, "$_NOT_": 2, "$_AND_": 6, "$_NAND_": 4, "$_OR_": 6, "$_NOR_": 4,
    "$_ANDNOT_": 6, "$_ORNOT_": 6, "$_XOR_": 12, "$_XNOR_": 12, "$_AOI3_": 6, "$_OAI3_": 6,
    "$_AOI4_": 8, "$_OAI4_": 8, "$_MUX_": 12, "$_NMUX_": 10, "$_DFF_P_": 16,
}
_FLIP_FLOP = "$_DFF_P_"


def check_gates(gates):
    """``gates`` when it is an ``abc -g`` list: comma-separated gate types
    (:data:`GATE_TYPES`) or named sets (:data:`GATE_SETS`), each optionally prefixed by
    ``-`` (removed from the list); ``ValueError`` otherwise."""
    known = GATE_TYPES + GATE_SETS
    items = gates.split(",") if isinstance(gates, str) else None
    if not items or any(item.removeprefix("-") not in known for item in items) \
            or all(item.startswith("-") for item in items):
        raise ValueError(f"gates must be a comma-separated list of ABC gate types "
                         f"({', '.join(GATE_TYPES)}) or sets ({', '.join(GATE_SETS)}), "
                         f"a '-' before one removing it, not {gates!r}")
    return gates


# -- the technology --

#: Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014 Digest
#: of Technical Papers, pp. 10-14, table of energy per operation in 45 nm at 0.9 V: an 8-bit
#: integer add 0.03 pJ, a 32-bit one 0.1 pJ.
HOROWITZ_45NM_ADD_J = {8: 0.03e-12, 32: 0.1e-12}
#: The supply those figures are for (same source).
HOROWITZ_45NM_VDD = 0.9

#: Input capacitance of a small gate in 45 nm: the NanGate FreePDK45 Open Cell Library
#: (``NangateOpenCellLibrary_typical.lib``, capacitance unit 1 fF) gives 1.70 fF for the
#: input of INV_X1 and 1.60 / 1.66 fF for the inputs of NAND2_X1.
NANGATE45_INPUT_F = 1.65e-15


@dataclass(frozen=True)
class Technology:
    """What the energy estimate assumes about the process: ``node_capacitance`` (farads) is
    the effective capacitance one gate output charges (the inputs it drives, its own output,
    its wire), ``input_capacitance`` that of one gate input (a flip-flop's clock pin),
    ``vdd`` the supply (volts); ``source`` says where they come from."""
    name: str
    feature_nm: float
    vdd: float
    node_capacitance: float
    input_capacitance: float
    source: str

    @property
    def energy_per_toggle(self):
        """Joules per output transition: a rise draws C V^2 from the supply and stores half
        of it, a fall dissipates the stored half, so each transition costs 1/2 C V^2 on
        average."""
        return 0.5 * self.node_capacitance * self.vdd ** 2

    @property
    def clock_pin_energy(self):
        """Joules per flip-flop and clock cycle for its clock pin: one rise and one fall,
        C_in V^2."""
        return self.input_capacitance * self.vdd ** 2


#: 45 nm at 0.9 V (Horowitz's node and supply, so that his per-operation figures can check
#: it). Node capacitance 3 x 1.65 fF = 4.95 fF: a gate output of the mapped 16x16x8 core
#: drives 1.8 gate inputs on average (measured on its netlist), and the driving gate's own
#: output capacitance and a short local wire are taken together as about one more input.
NODE_45NM = Technology(
    name="45 nm, 0.9 V", feature_nm=45, vdd=HOROWITZ_45NM_VDD,
    node_capacitance=3 * NANGATE45_INPUT_F, input_capacitance=NANGATE45_INPUT_F,
    source="1/2 C V^2 with C = 3 x 1.65 fF (NanGate FreePDK45 X1 input capacitance, "
           "1.60-1.70 fF) and V = 0.9 V (Horowitz, ISSCC 2014, 45 nm)")

#: The analog original: Cauwenberghs and Pedroni, "A Charge-Based CMOS Parallel Analog
#: Vector Quantizer", NIPS 7 (1994), pp. 779-786 (and IEEE JSSC 32(8), 1997, pp.
#: 1278-1283): MOSIS 2.0 um double-poly CMOS, 16 x 16 distance cells of 60 x 78 um^2,
#: 3 us cycle time at 0.7 mW, so 333,000 vectors per second and 2.1 nJ per vector.
#: ``vdd_assumed``: the supply is not restated here; 5 V, the usual supply of 2 um CMOS
#: processes, is an assumption used only for the scaled comparison.
ANALOG = {
    "feature_nm": 2000, "power_w": 0.7e-3, "cycle_s": 3e-6, "cell_area_um2": 60 * 78,
    "cells": 256, "vdd_assumed": 5.0,
}
ANALOG["vectors_per_second"] = 1 / ANALOG["cycle_s"]
ANALOG["energy_per_vector_j"] = ANALOG["power_w"] * ANALOG["cycle_s"]


def scaled_energy(energy_j, technology, feature_nm, vdd):
    """``energy_j`` at ``technology`` scaled to a process of ``feature_nm`` and supply
    ``vdd`` by the classical (Dennard) rule for switching energy C V^2: the capacitance of
    the same circuit grows with the feature size (gate area ~ L^2, oxide ~ L, so C ~ L), and
    the energy with the square of the supply."""
    return energy_j * (feature_nm / technology.feature_nm) * (vdd / technology.vdd) ** 2


# -- the mapped netlist --

class GateNetlist:
    """Module ``top`` of a Yosys JSON netlist (a dict) made of single-output gates and
    ``$_DFF_P_`` flip-flops (what :func:`map_to_gates` leaves).

    ``cells``: ``(name, type, input bits, output bit)``; bits are Yosys' net numbers, or the
    strings ``"0"``, ``"1"``, ``"x"`` for constants.
    """

    def __init__(self, netlist, top):
        module = netlist["modules"][top]
        self.top = top
        self.ports = module["ports"]
        self.cells = []
        for name, cell in module["cells"].items():
            if cell["type"] not in CMOS_TRANSISTORS:
                raise ValueError(f"cell {name} of type {cell['type']} is not a simple gate "
                                 f"or a {_FLIP_FLOP} flip-flop")
            inputs, outputs = [], []
            for port, bits in cell["connections"].items():
                if cell["type"] == _FLIP_FLOP and port == "C":
                    continue            # the clock is not data
                (outputs if cell["port_directions"][port] == "output" else inputs).extend(bits)
            if len(outputs) != 1:
                raise ValueError(f"cell {name} has {len(outputs)} outputs, not 1")
            self.cells.append((name, cell["type"], inputs, outputs[0]))

    def counts(self):
        """Cells by type, e.g. ``{"$_NAND_": 10352, ...}``."""
        return dict(sorted(Counter(t for _, t, _, _ in self.cells).items()))

    @property
    def flip_flops(self):
        return sum(t == _FLIP_FLOP for _, t, _, _ in self.cells)

    @property
    def gates(self):
        """Combinational cells."""
        return len(self.cells) - self.flip_flops

    def transistors(self):
        """Transistors by Yosys' CMOS table (:data:`CMOS_TRANSISTORS`)."""
        return sum(CMOS_TRANSISTORS[t] * n for t, n in self.counts().items())

    def _port_bits(self, direction):
        return {b for p in self.ports.values() if p["direction"] == direction
                for b in p["bits"] if isinstance(b, int)}

    def fanout(self):
        """``{bit: gate inputs, flip-flop data inputs and output-port bits it drives}``."""
        readers = Counter()
        for _, _, inputs, _ in self.cells:
            readers.update(b for b in inputs if isinstance(b, int))
        readers.update(self._port_bits("output"))
        return readers

    def depth(self):
        """Logic depth in gates (each combinational cell one level, an inverter included)
        of the longest path of each kind: ``reg_to_reg`` (flip-flop output to flip-flop
        input), ``in_to_reg``, ``reg_to_out``, ``in_to_out`` (from an input port, to an
        output port); ``None`` where there is no such path. A flip-flop feeding another
        directly is a path of 0 gates."""
        ff_q = {out for _, t, _, out in self.cells if t == _FLIP_FLOP}
        inputs = self._port_bits("input")
        gates = [(ins, out) for _, t, ins, out in self.cells if t != _FLIP_FLOP]
        driver = {out: i for i, (_, out) in enumerate(gates)}
        # Kahn's order over the gates: each gate after every gate that drives it.
        waiting = [sum(1 for b in set(ins) if b in driver) for ins, _ in gates]
        users = [[] for _ in gates]
        for i, (ins, _) in enumerate(gates):
            for b in set(ins):
                if b in driver:
                    users[driver[b]].append(i)
        ready = [i for i, n in enumerate(waiting) if n == 0]
        order = []
        while ready:
            i = ready.pop()
            order.append(i)
            for j in users[i]:
                waiting[j] -= 1
                if waiting[j] == 0:
                    ready.append(j)
        if len(order) != len(gates):
            raise ValueError("the netlist has a combinational loop")
        none = -math.inf
        from_reg = [none] * len(gates)
        from_in = [none] * len(gates)

        def level(bit, table, starts):
            if bit in driver:
                return table[driver[bit]]
            return 0 if bit in starts else none

        for i in order:
            ins = gates[i][0]
            from_reg[i] = 1 + max((level(b, from_reg, ff_q) for b in ins), default=none)
            from_in[i] = 1 + max((level(b, from_in, inputs) for b in ins), default=none)
        ff_d = [b for _, t, ins, _ in self.cells if t == _FLIP_FLOP for b in ins]
        outputs = self._port_bits("output")

        def longest(ends, table, starts):
            best = max((level(b, table, starts) for b in ends), default=none)
            return None if best == none else int(best)

        return {"reg_to_reg": longest(ff_d, from_reg, ff_q),
                "in_to_reg": longest(ff_d, from_in, inputs),
                "reg_to_out": longest(outputs, from_reg, ff_q),
                "in_to_out": longest(outputs, from_in, inputs)}


_TRANSISTORS = re.compile(r"Estimated number of transistors:\s+(\d+)(\+?)")
_LTP = re.compile(r"Longest topological path in \S+ \(length=(\d+)\)")


def map_to_gates(verilog, top, workdir, gates=DEFAULT_GATES):
    """Synthesise Verilog ``verilog`` (top module ``top``) to simple gates and plain D
    flip-flops in ``workdir`` (``gates.json``, ``yosys.log``); return ``(netlist,
    figures)``: the JSON netlist as a dict, and ``transistors`` (``stat -tech cmos``) and
    ``ltp`` (``ltp -noff``, the longest path in gates from any start to any end) from Yosys'
    log."""
    check_gates(gates)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "design.v").write_text(verilog)
    script = "; ".join([
        "read_verilog design.v",
        # Generic synthesis, flattened; memories become flip-flops and multiplexers.
        f"synth -flatten -top {top} -noabc",
        # Flattening leaves one scope marker per former submodule: no hardware.
        "delete t:$scopeinfo",
        # One kind of flip-flop: enables and synchronous resets become gates in front of it,
        # as with a cell library that has only plain D flip-flops.
        "dfflegalize -cell $_DFF_P_ 01",
        f"abc -g {gates}",
        "opt_clean",
        "stat -tech cmos",
        "ltp -noff",
        "write_json gates.json",
    ])
    log = run_yosys(script, workdir, log="yosys.log")
    found = _TRANSISTORS.findall(log)
    if not found or found[-1][1]:
        raise RuntimeError("Yosys' stat -tech cmos did not count every cell's transistors")
    ltp = _LTP.findall(log)
    netlist = json.loads((workdir / "gates.json").read_text())
    return netlist, {"transistors": int(found[-1][0]), "ltp": int(ltp[-1]) if ltp else 0}


def probed_verilog(netlist, top, workdir, probe="probe"):
    """The Verilog of ``netlist``'s module ``top`` with one more output port ``probe`` that
    carries every cell output (gates and flip-flops, in :class:`GateNetlist` order, each net
    once); returns ``(verilog, probe_types)``, the cell type behind each probe bit."""
    module = netlist["modules"][top]
    if probe in module["ports"]:
        raise ValueError(f"{top} already has a port named {probe!r}")
    bits, types = [], []
    for cell in GateNetlist(netlist, top).cells:
        bits.append(cell[3])
        types.append(cell[1])
    if len(set(bits)) != len(bits) or not all(isinstance(b, int) for b in bits):
        raise ValueError("two cells drive the same net, or a cell drives a constant")
    probed = json.loads(json.dumps(netlist))
    module = probed["modules"][top]
    # The probe gets nets of its own, each driven from a cell output by a buffer (written
    # as `assign probe[i] = net;`). Were the port made of the cell outputs themselves,
    # every gate would read and write bits of one huge vector, which Verilator has to
    # treat as a combinational loop (and takes many minutes to compile).
    used = [b for p in module["ports"].values() for b in p["bits"]]
    used += [b for c in module["cells"].values() for bs in c["connections"].values()
             for b in bs]
    used += [b for n in module.get("netnames", {}).values() for b in n["bits"]]
    first = max([b for b in used if isinstance(b, int)], default=1) + 1
    taps = list(range(first, first + len(bits)))
    for k, (bit, tap) in enumerate(zip(bits, taps)):
        module["cells"][f"probe_tap_{k}"] = {
            "type": "$_BUF_", "port_directions": {"A": "input", "Y": "output"},
            "connections": {"A": [bit], "Y": [tap]}}
    module["ports"][probe] = {"direction": "output", "bits": taps}
    workdir = Path(workdir)
    (workdir / "probed.json").write_text(json.dumps(probed))
    run_yosys("read_json probed.json; write_verilog -noattr probed.v", workdir,
              log="yosys_probe.log")
    return (workdir / "probed.v").read_text(), types


# -- driving the core --

RESET_CYCLES = 2
# Idle cycles between the last codebook write and the first vector (a vector waits at most
# two cycles after a configuration write).
SETTLE_CYCLES = 4


@dataclass
class Schedule:
    """Per-cycle inputs of a core run (``inputs``, ``cycles``): reset, the codebook written
    one template per cycle, then one vector every ``cycles_per_vector`` cycles from cycle
    ``first_vector`` on, results always taken. ``window``: the cycles in which every
    pipeline stage holds a real vector, from the first result to the last vector offered."""
    inputs: dict
    cycles: int
    first_vector: int
    window: tuple


def core_schedule(config, codebook, vectors):
    """The :class:`Schedule` that loads ``codebook`` (M x N) and streams ``vectors``
    (K x N) through ``config``'s core."""
    cfg = config
    m, k, cpv = len(codebook), len(vectors), cfg.cycles_per_vector
    first = RESET_CYCLES + m + SETTLE_CYCLES
    end = first + k * cpv
    cycles = end + cfg.latency_cycles + cpv + 8
    window = (first + cfg.latency_cycles + 1, end)
    if k < minimum_vectors(cfg):
        raise ValueError(f"at least {minimum_vectors(cfg)} vectors are needed to fill the "
                         f"pipeline (latency {cfg.latency_cycles} cycles), not {k}")
    c = np.arange(cycles)
    rst = (c < RESET_CYCLES).astype(np.int64)
    writing = (c >= RESET_CYCLES) & (c < RESET_CYCLES + m)
    row = np.clip(c - RESET_CYCLES, 0, m - 1)
    # Data ports keep their last value when their stream is idle, as a producer's
    # registers would.
    book_words = pack_words(codebook, cfg.width)[row]
    vector_row = np.clip((c - first) // cpv, 0, k - 1)
    vector_words = pack_words(vectors, cfg.width)[vector_row]
    vector_words[c < first] = 0
    inputs = {
        "rst": rst,
        "codebook_valid": writing.astype(np.int64),
        "codebook_index": np.where(writing, row, m - 1),
        "codebook_data": book_words,
        "vector_valid": ((c >= first) & (c < end)).astype(np.int64),
        "vector_data": vector_words,
        "result_ready": (c >= RESET_CYCLES).astype(np.int64),
    }
    return Schedule(inputs, cycles, first, window)


def core_activity(counter, config, codebook, vectors):
    """Run ``vectors`` through the gate netlist in ``counter`` (a
    :class:`~madvq.sim.toggles.ToggleCounter` of ``config``'s core) after loading
    ``codebook``; check every result against the golden model; return the
    :class:`~madvq.sim.toggles.Activity` over the schedule's window.
    :class:`~madvq.sim.SimulationError` when the core does not take the codebook and the
    vectors at the scheduled times, :class:`~madvq.sim.MismatchError` when a result
    differs."""
    cfg = config
    schedule = core_schedule(cfg, codebook, vectors)
    run = counter.run(schedule.inputs, schedule.cycles, schedule.window)
    m, k, cpv = len(codebook), len(vectors), cfg.cycles_per_vector
    if not run.value("codebook_ready")[RESET_CYCLES:RESET_CYCLES + m].all():
        raise SimulationError("the gate netlist did not take a codebook write per cycle")
    offered = schedule.inputs["vector_valid"].astype(bool)
    taken = np.flatnonzero(offered & run.value("vector_ready").astype(bool))
    if len(taken) != k or not np.array_equal((taken - schedule.first_vector) // cpv,
                                             np.arange(k)):
        raise SimulationError(f"the gate netlist took {len(taken)} vectors, not one in each "
                              f"of {k} periods of {cpv} cycle(s)")
    out = np.flatnonzero(run.value("result_valid").astype(bool)
                         & schedule.inputs["result_ready"].astype(bool))
    expected = golden.classify(cfg, codebook, vectors, m)
    index = run.value("result_index")[out]
    distance = run.value("result_distance")[out]
    if len(out) != k or not (np.array_equal(index, expected.index)
                             and np.array_equal(distance, expected.distance)):
        bad = next((i for i in range(min(len(out), k))
                    if (index[i], distance[i]) != (expected.index[i], expected.distance[i])),
                   min(len(out), k))
        raise MismatchError(f"the gate netlist gave {len(out)} results for {k} vectors; "
                            f"first difference from the golden model at vector {bad}")
    return run


# -- the data --

#: Random vectors per run, and the most image blocks used (the first ones in raster order;
#: the 512x600 photograph has 19,200 blocks of 4x4).
DEFAULT_VECTORS = 2_000
IMAGE_VECTORS = 20_000


def random_data(config, vectors, seed):
    """A uniformly random codebook (M x N) and ``vectors`` uniformly random vectors over the
    core's value range."""
    rng = np.random.default_rng(seed)
    lo, hi = config.value_min, config.value_max + 1
    return (rng.integers(lo, hi, (config.templates, config.dims)),
            rng.integers(lo, hi, (vectors, config.dims)))


def image_block(dims):
    """The block shape ``(h, w)`` with h x w = ``dims`` pixels, as square as divides it
    (4x4 for 16, 1x3 for 3)."""
    h = max(d for d in range(1, math.isqrt(dims) + 1) if dims % d == 0)
    return h, dims // h


def image_data(config, limit=IMAGE_VECTORS, seed=0):
    """The photograph's blocks as vectors and a codebook trained on them: ``(codebook,
    vectors, block)``. Blocks of :func:`image_block` pixels in raster order (at most
    ``limit``), grayscale values scaled from 0..255 to the core's W-bit range."""
    from madvq.sim.train import train_codebook
    from .demo import demo_picture
    from .quantize import image_blocks
    picture, planes = demo_picture()
    block = image_block(config.dims)
    pixels = image_blocks(planes[0], block)[:limit]
    vectors = pixels * ((1 << config.width) - 1) // 255 + config.value_min
    if len(vectors) < config.templates:
        raise ValueError(f"the photograph gives {len(vectors)} blocks of {config.dims} "
                         f"pixels, fewer than the {config.templates} templates to train")
    codebook, _ = train_codebook(vectors, config, seed=seed)
    return codebook, vectors, block


# -- the cross-check --

def _adder_verilog(width):
    return (f"module adder(clk, a, b, s);\n  input clk;\n  input [{width - 1}:0] a;\n"
            f"  input [{width - 1}:0] b;\n  output [{width}:0] s;\n"
            f"  assign s = a + b;\nendmodule\n")


def adder_check(width, workdir, *, gates=DEFAULT_GATES, samples=4096, seed=1,
                technology=NODE_45NM, cache_dir=None, log=None):
    """The energy per addition of a ``width``-bit adder (combinational, ``s = a + b``)
    mapped and simulated as the core is, on ``samples`` random operand pairs: its gates,
    gate-output toggles per addition, energy per addition by ``technology``, and Horowitz's
    45 nm figure with the ratio (when he gives one for ``width``)."""
    netlist, figures = map_to_gates(_adder_verilog(width), "adder", workdir, gates)
    verilog, _ = probed_verilog(netlist, "adder", workdir)
    gate_netlist = GateNetlist(netlist, "adder")
    ports = [{"name": "clk", "direction": "input", "width": 1},
             {"name": "a", "direction": "input", "width": width},
             {"name": "b", "direction": "input", "width": width},
             {"name": "s", "direction": "output", "width": width + 1},
             {"name": "probe", "direction": "output", "width": len(gate_netlist.cells)}]
    counter = ToggleCounter(verilog, "adder", ports, cache_dir=cache_dir, log=log)
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 1 << width, samples + 1, dtype=np.int64)
    b = rng.integers(0, 1 << width, samples + 1, dtype=np.int64)
    # The first cycle only sets the starting values; each later one is one addition.
    run = counter.run({"a": a, "b": b}, samples + 1, (1, samples + 1))
    if not np.array_equal(run.value("s"), a + b):
        raise MismatchError(f"the mapped {width}-bit adder does not add")
    energy = run.per_cycle * technology.energy_per_toggle
    reference = HOROWITZ_45NM_ADD_J.get(width) if technology.feature_nm == 45 else None
    return {"width": width, "gates": gate_netlist.gates, "transistors": figures["transistors"],
            "toggles_per_add": round(run.per_cycle, 2), "energy_per_add_pj": energy * 1e12,
            "horowitz_pj": reference * 1e12 if reference else None,
            "ratio_to_horowitz": energy / reference if reference else None}


# -- the estimate --

def _activity_figures(run, types, fanout_by_bit, technology, config):
    """The figures of one :class:`~madvq.sim.toggles.Activity` of the core: toggles per
    cycle (all, flip-flop outputs, gate outputs, by cell type), the share of nets that
    change per cycle, the fan-out of a toggling net on average, and the energy."""
    toggles = run.toggles
    per_cycle = run.per_cycle
    by_type = Counter()
    for t, n in zip(types, toggles):
        by_type[t] += int(n)
    ff = by_type.get(_FLIP_FLOP, 0)
    total = int(toggles.sum())
    energy_cycle = per_cycle * technology.energy_per_toggle
    fan = sum(int(n) * f for n, f in zip(toggles, fanout_by_bit))
    return {
        "vectors": None,
        "cycles": run.cycles,
        "toggles_per_cycle": round(per_cycle, 1),
        "flip_flop_toggles_per_cycle": round(ff / run.cycles, 1),
        "gate_toggles_per_cycle": round((total - ff) / run.cycles, 1),
        "activity": round(per_cycle / len(types), 4),
        "toggle_weighted_fanout": round(fan / total, 2) if total else None,
        "toggles_per_cycle_by_type": {t: round(n / run.cycles, 1)
                                      for t, n in sorted(by_type.items())},
        "energy_per_cycle_pj": energy_cycle * 1e12,
        "energy_per_vector_pj": energy_cycle * config.cycles_per_vector * 1e12,
    }


def minimum_vectors(config):
    """The fewest vectors that fill ``config``'s pipeline for at least one vector period
    (the activity is counted only while every stage holds a real vector)."""
    return -(-(config.latency_cycles + 1) // config.cycles_per_vector) + 1


def check_estimate(config, *, gates=DEFAULT_GATES, vectors=DEFAULT_VECTORS,
                   image_vectors=IMAGE_VECTORS, seed=1):
    """Check :func:`estimate`'s arguments before any work: ``TypeError`` for a
    ``config`` that is not a :class:`CoreConfig`, ``ValueError`` naming the problem
    otherwise."""
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {config!r}")
    if config.arithmetic != "generic":
        raise ValueError(f"an ASIC estimate needs arithmetic 'generic', not "
                         f"{config.arithmetic!r} (ECP5 carry cells are FPGA primitives)")
    check_gates(gates)
    least = minimum_vectors(config)
    for name, value in (("vectors", vectors), ("image_vectors", image_vectors)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be an integer of at least {least} (enough to "
                             f"fill the pipeline of {config.latency_cycles} cycles), not "
                             f"{value!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")


def estimate(config, workdir, *, gates=DEFAULT_GATES, vectors=DEFAULT_VECTORS,
             image_vectors=IMAGE_VECTORS, seed=1, technology=NODE_45NM, cross_check=True,
             cache_dir=None, log=None):
    """The ASIC estimate of ``config`` (generic arithmetic), worked out in ``workdir``:
    a record (dict) with the configuration's parameters, ``device`` ``"asic"``, the gate
    set, ``gates`` (combinational cells) and ``gates_by_type``, ``ffs``, ``transistors``,
    ``logic_depth`` (gates, flip-flop to flip-flop) and ``depth`` (every kind of path),
    ``random`` and ``image`` (activity and energy of ``vectors`` random vectors and of at
    most ``image_vectors`` photograph blocks: toggles per cycle, energy per vector in pJ),
    ``clock_energy_per_vector_pj``, the technology and its sources, the comparison with
    the analog chip, the adder cross-check (``cross_check``), tool versions and seconds.
    ``seed`` seeds the random data and the codebook training. ``log(message)`` receives
    progress notes. Raises ``ValueError`` for ``ecp5`` arithmetic or bad options,
    :class:`~madvq.hdl.tools.ToolError` when Yosys fails, and
    :class:`~madvq.sim.SimulationError` when the gate netlist disagrees with the golden
    model."""
    from madvq.hdl.export import verilog_text
    check_estimate(config, gates=gates, vectors=vectors, image_vectors=image_vectors,
                   seed=seed)
    note = log or (lambda message: None)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    seconds = {}
    top = config.default_name

    start = time.perf_counter()
    note("exporting the core's Verilog")
    verilog = verilog_text(config, top)
    seconds["export"] = time.perf_counter() - start

    start = time.perf_counter()
    note(f"synthesising to gates ({gates}) with Yosys")
    netlist, figures = map_to_gates(verilog, top, workdir, gates)
    gate_netlist = GateNetlist(netlist, top)
    counts = gate_netlist.counts()
    if gate_netlist.transistors() != figures["transistors"]:
        raise RuntimeError(f"Yosys counts {figures['transistors']} transistors, its table "
                           f"{gate_netlist.transistors()}")
    depth = gate_netlist.depth()
    seconds["synthesis"] = time.perf_counter() - start

    start = time.perf_counter()
    probed, types = probed_verilog(netlist, top, workdir)
    fanout = gate_netlist.fanout()
    fanout_by_bit = [fanout[cell[3]] for cell in gate_netlist.cells]
    ports = port_table(config) + [{"name": "probe", "direction": "output",
                                   "width": len(types)}]
    counter = ToggleCounter(probed, top, ports, cache_dir=cache_dir, log=note)
    note("simulating the gate netlist on random data")
    book, data = random_data(config, vectors, seed)
    random_run = core_activity(counter, config, book, data)
    random_figures = _activity_figures(random_run, types, fanout_by_bit, technology, config)
    random_figures["vectors"] = vectors
    note("training a codebook on the photograph's blocks and simulating them")
    book, data, block = image_data(config, image_vectors, seed)
    image_run = core_activity(counter, config, book, data)
    image_figures = _activity_figures(image_run, types, fanout_by_bit, technology, config)
    image_figures["vectors"] = len(data)
    image_figures["block"] = f"{block[0]}x{block[1]}"
    seconds["simulation"] = time.perf_counter() - start

    checks = []
    if cross_check:
        start = time.perf_counter()
        note("cross-check: 8-bit and 32-bit adders, same flow")
        for width in sorted(HOROWITZ_45NM_ADD_J):
            checks.append(adder_check(width, workdir / f"adder{width}", gates=gates,
                                      seed=seed, technology=technology,
                                      cache_dir=cache_dir, log=note))
        seconds["cross_check"] = time.perf_counter() - start

    cpv = config.cycles_per_vector
    clock_pj = gate_netlist.flip_flops * technology.clock_pin_energy * cpv * 1e12
    analog_j = ANALOG["energy_per_vector_j"]
    image_j = image_figures["energy_per_vector_pj"] * 1e-12
    scaled_j = scaled_energy(image_j, technology, ANALOG["feature_nm"],
                             ANALOG["vdd_assumed"])
    record = {
        **config.to_dict(),
        "device": "asic",
        "gate_set": gates,
        "cells": len(gate_netlist.cells),
        "gates": gate_netlist.gates,
        "ffs": gate_netlist.flip_flops,
        "transistors": figures["transistors"],
        "logic_depth": depth["reg_to_reg"],
        "depth": {**depth, "ltp_noff": figures["ltp"]},
        "gates_by_type": {t.strip("$_"): n for t, n in counts.items() if t != _FLIP_FLOP},
        "transistors_by_type": {t.strip("$_"): CMOS_TRANSISTORS[t] * n
                                for t, n in counts.items()},
        "cycles_per_vector": cpv,
        "random": random_figures,
        "image": image_figures,
        "toggles_per_cycle_random": random_figures["toggles_per_cycle"],
        "toggles_per_cycle_image": image_figures["toggles_per_cycle"],
        "energy_per_vector_random_pj": round(random_figures["energy_per_vector_pj"], 2),
        "energy_per_vector_image_pj": round(image_figures["energy_per_vector_pj"], 2),
        "clock_energy_per_vector_pj": round(clock_pj, 2),
        "technology": {**asdict(technology),
                       "energy_per_toggle_fj": technology.energy_per_toggle * 1e15,
                       "clock_pin_energy_fj": technology.clock_pin_energy * 1e15},
        "energy_per_toggle_fj": round(technology.energy_per_toggle * 1e15, 3),
        "analog": {**ANALOG, "source": "Cauwenberghs and Pedroni, NIPS 7 (1994) pp. "
                                       "779-786; IEEE JSSC 32(8), 1997"},
        "analog_energy_per_vector_nj": round(analog_j * 1e9, 2),
        "analog_over_digital_image": round(analog_j / image_j, 1) if image_j else None,
        "scaled_to_analog_node_nj": round(scaled_j * 1e9, 2),
        "scaling_rule": f"E x (L / {technology.feature_nm:g} nm) x (V / "
                        f"{technology.vdd:g} V)^2 to L = {ANALOG['feature_nm']} nm, V = "
                        f"{ANALOG['vdd_assumed']:g} V (assumed)",
        "cross_check": checks,
        "seed": seed,
        "input_bits": config.dims * config.templates * config.width,
        "tool_versions": _versions(),
        "machine": f"{_platform.machine()}, Python {_platform.python_version()}",
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
    }
    return record


def _versions():
    """Versions of the packages the estimate depends on (no place and route here)."""
    versions = {k: v for k, v in tool_versions().items() if not k.startswith("yowasp-nextpnr")}
    try:
        versions["verilator"] = metadata.version("verilator")
    except metadata.PackageNotFoundError:
        versions["verilator"] = None
    return versions


# -- outputs --

#: The flat fields of a record, in the CSV's column order.
ASIC_FIELDS = [
    "dims", "templates", "width", "signed", "templates_per_cycle", "distances", "storage",
    "ram_lanes", "arithmetic", "device", "gate_set", "cells", "gates", "ffs", "transistors",
    "logic_depth", "cycles_per_vector", "toggles_per_cycle_random", "toggles_per_cycle_image",
    "energy_per_toggle_fj", "energy_per_vector_random_pj", "energy_per_vector_image_pj",
    "clock_energy_per_vector_pj", "analog_energy_per_vector_nj", "analog_over_digital_image",
    "scaled_to_analog_node_nj", "seed", "input_bits",
]


def _name(r):
    return CoreConfig.from_dict({k: r[k] for k in CoreConfig().to_dict()}).default_name


def summary(r):
    """The record as the lines ``madvq report --device asic`` prints."""
    tech = r["technology"]
    kinds = ", ".join(f"{n:,} {t}" for t, n in sorted(r["gates_by_type"].items(),
                                                      key=lambda x: -x[1]))
    d = r["depth"]
    lines = [
        f"{_name(r)} as gates ({r['gate_set']}; Yosys synth, abc -g): {r['gates']:,} gates "
        f"({kinds}) and {r['ffs']:,} flip-flops; {r['transistors']:,} transistors "
        f"(stat -tech cmos)",
        f"  logic depth: {r['logic_depth']} gates flip-flop to flip-flop (input to flip-flop "
        f"{d['in_to_reg']}, flip-flop to output {d['reg_to_out']}, input to output "
        f"{d['in_to_out']}; ltp -noff {d['ltp_noff']})",
    ]
    for key, label in (("random", "random data"), ("image", "photograph")):
        a = r[key]
        extra = f", {a['block']} blocks" if key == "image" else ""
        lines.append(
            f"  {label} ({a['vectors']:,} vectors{extra}, {a['cycles']:,} cycles counted): "
            f"{a['toggles_per_cycle']:,.1f} toggles per cycle ({a['activity']:.1%} of the "
            f"nets; flip-flops {a['flip_flop_toggles_per_cycle']:,.1f}), "
            f"{a['energy_per_vector_pj']:.1f} pJ per vector")
    lines += [
        f"  energy per toggle {r['energy_per_toggle_fj']:.2f} fJ ({tech['source']}); "
        f"clock pins of the flip-flops, not included above: "
        f"{r['clock_energy_per_vector_pj']:.1f} pJ per vector; estimate within about 3x",
    ]
    for c in r.get("cross_check", []):
        ref = (f" vs Horowitz {c['horowitz_pj']:.2f} pJ (x{c['ratio_to_horowitz']:.2f})"
               if c["horowitz_pj"] else "")
        lines.append(f"  cross-check: {c['width']}-bit adder, {c['gates']} gates, "
                     f"{c['toggles_per_add']:.1f} toggles per add, "
                     f"{c['energy_per_add_pj']:.3f} pJ{ref}")
    lines.append(
        f"  analog original (2 um CMOS, 0.7 mW at 333,000 vectors/s): "
        f"{r['analog_energy_per_vector_nj']:.1f} nJ per vector, "
        f"{r['analog_over_digital_image']:,.0f}x this estimate's {tech['name']} figure on the "
        f"photograph; scaled to 2 um ({r['scaling_rule']}): {r['scaled_to_analog_node_nj']:.1f} "
        f"nJ per vector")
    return "\n".join(lines)


def markdown_table(records, *, command=None):
    """The records as a Markdown table, with how they were made."""
    lines = []
    if command:
        lines += [f"Reproduce with `{command}`.", ""]
    lines += [
        "| core N x M x W | P | gates | FF | transistors | depth (gates) | toggles/cycle "
        "random | toggles/cycle photo | pJ/vector random | pJ/vector photo | + clock pins "
        "pJ/vector | analog 2.1 nJ / photo |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in records:
        sign = "s" if r["signed"] else "u"
        lines.append(
            f"| {r['dims']}x{r['templates']}x{r['width']}{sign} | {r['templates_per_cycle']} "
            f"| {r['gates']:,} | {r['ffs']:,} | {r['transistors']:,} | {r['logic_depth']} | "
            f"{r['toggles_per_cycle_random']:,.0f} | {r['toggles_per_cycle_image']:,.0f} | "
            f"{r['energy_per_vector_random_pj']:.1f} | {r['energy_per_vector_image_pj']:.1f} "
            f"| {r['clock_energy_per_vector_pj']:.1f} | {r['analog_over_digital_image']:,.0f}x |")
    if records:
        r = records[0]
        lines += ["", f"Gate set {r['gate_set']}; energy per toggle "
                      f"{r['energy_per_toggle_fj']:.2f} fJ: {r['technology']['source']}."]
    return "\n".join(lines) + "\n"


def write_report(record, out_dir, stem, *, command=None):
    """Write ``<stem>.csv`` (:data:`ASIC_FIELDS`), ``<stem>.json`` (the whole record) and
    ``<stem>.md`` into ``out_dir``, each whole or not at all; return their paths."""
    out_dir = Path(out_dir)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(ASIC_FIELDS)
    writer.writerow(["" if record.get(k) is None else record[k] for k in ASIC_FIELDS])
    document = json.dumps({"command": command, "date": datetime.date.today().isoformat(),
                           "record": record}, indent=1) + "\n"
    paths = []
    for suffix, content in ((".csv", text.getvalue()), (".json", document),
                            (".md", markdown_table([record], command=command))):
        paths.append(write_atomically(out_dir / f"{stem}{suffix}",
                                      lambda f, c=content: f.write(c.encode())))
    return paths

"""Switching activity of a netlist, measured bit by bit in a Verilator simulation.

:class:`ToggleCounter` verilates a Verilog netlist whose top module has a ``probe`` output
port (any width: the nets whose activity is wanted, e.g. every gate output of a mapped
netlist) together with the C++ harness ``toggle_harness.cpp``, and runs it through a fixed
schedule: one row of input values per clock cycle, given as NumPy arrays. It returns the
outputs of every cycle and, for every probe bit, how many times it changed during a window
of cycles.

What a toggle is: the harness evaluates the model twice per cycle, after the inputs of the
cycle are applied (clock low) and after the rising edge, and counts a probe bit each time
its value differs from the previous evaluation. That is every functional transition of a
zero-delay simulation, at most two per net and cycle; glitches (short pulses from unequal
path delays in a real circuit) are not seen. The clock is not a probe bit.

Nothing here knows about madvq cores: any top with a probe port works (the ASIC estimate of
:mod:`madvq.gen.asic` is one user). The model is compiled once per netlist and cached by
:func:`madvq.sim.verilated.build_model`. Tracing is switched off in the netlist (a
``verilator tracing_off`` comment before it): the trace code of tens of thousands of gate
nets would only slow the compile. Gate netlists make huge C++ functions, which the
compiler handles in more than linear time, so Verilator is told to split them
(:data:`VERILATOR_ARGS`).
"""

import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .verilated import build_model, copy_in, copy_out, find_tools, port_words


__all__ = ["ToggleCounter", "Activity", "harness_source", "port_words", "VERILATOR_ARGS"]


_TEMPLATE = Path(__file__).with_name("toggle_harness.cpp")

#: Extra Verilator options. Functions of at most 1,000 statements: on the 16x16x8 core's gate
#: netlist (36,000 cells) the model compiled in 7.3 minutes of CPU instead of 13, and
#: simulated 8,200 instead of 6,800 cycles per second (one measurement each, same machine).
VERILATOR_ARGS = ("--output-split-cfuncs", "1000")


def _layout(ports, direction, skip):
    """``{name: (offset, width)}`` of the ports of ``direction``, each from a word boundary."""
    layout, offset = {}, 0
    for port in ports:
        if port["direction"] != direction or port["name"] in skip:
            continue
        layout[port["name"]] = (offset, port["width"])
        offset += port_words(port["width"])
    return layout, max(1, offset)


def harness_source(ports, *, probe="probe", clock="clk"):
    """The C++ harness for a top with ``ports`` (dicts with ``name``, ``direction`` and
    ``width``, like :func:`madvq.hdl.ports.port_table`), probe port ``probe`` and clock input
    ``clock`` (``None`` for a combinational top)."""
    widths = {p["name"]: p["width"] for p in ports}
    if widths.get(probe) is None or \
            next(p for p in ports if p["name"] == probe)["direction"] != "output":
        raise ValueError(f"the netlist needs an output port {probe!r} (the nets to watch)")
    if clock is not None and clock not in widths:
        raise ValueError(f"the netlist has no clock input {clock!r}")
    inputs, in_words = _layout(ports, "input", {clock})
    outputs, out_words = _layout(ports, "output", {probe})
    text = _TEMPLATE.read_text()
    fill = {
        "IN_WORDS": str(in_words),
        "OUT_WORDS": str(out_words),
        "PROBE_WORDS": str(port_words(widths[probe])),
        "SET_INPUTS": "\n".join(copy_in(n, w, o) for n, (o, w) in inputs.items())
                      or "    (void)m; (void)w;",
        "GET_OUTPUTS": "\n".join(copy_out(n, w, o) for n, (o, w) in outputs.items())
                       or "    (void)m; (void)w;",
        "GET_PROBE": copy_out(probe, widths[probe], 0),
        "SET_CLOCK": f"    m->{clock} = level;" if clock else "    (void)m; (void)level;",
    }
    for marker, code in fill.items():
        text = text.replace(f"@{marker}@", code)
    return text


@dataclass
class Activity:
    """What one run measured: ``toggles[i]``, the changes of probe bit i in the cycles
    ``window`` = ``(start, stop)``; ``outputs``, each output port's value in every cycle
    (just before the rising edge) as a (cycles, words) uint32 array."""
    toggles: np.ndarray
    window: tuple
    outputs: dict

    @property
    def cycles(self):
        """Cycles in the counting window."""
        return self.window[1] - self.window[0]

    @property
    def per_cycle(self):
        """Probe-bit toggles per clock cycle in the window (all bits together)."""
        return float(self.toggles.sum()) / self.cycles if self.cycles else 0.0

    def value(self, name):
        """Output ``name`` in every cycle as int64 (ports of at most 63 bits)."""
        words = self.outputs[name].astype(np.uint64)
        if words.shape[1] > 2:
            raise ValueError(f"output {name!r} is wider than 64 bits; use outputs[{name!r}]")
        value = words[:, 0]
        if words.shape[1] == 2:
            value = value | (words[:, 1] << np.uint64(32))
        return value.astype(np.int64)


class ToggleCounter:
    """Verilog ``verilog`` (text) with top module ``top`` and ``ports`` (see
    :func:`harness_source`), compiled with Verilator on the first :meth:`run` (or found in
    the cache)."""

    def __init__(self, verilog, top, ports, *, probe="probe", clock="clk", cache_dir=None,
                 log=None):
        self._verilog = "/* verilator tracing_off */\n" + verilog
        self._top = top
        self._ports = [dict(p) for p in ports]
        self._probe = probe
        self._clock = clock
        self._harness = harness_source(self._ports, probe=probe, clock=clock)
        self._inputs, self._in_words = _layout(self._ports, "input", {clock})
        self._outputs, self._out_words = _layout(self._ports, "output", {probe})
        self._probe_bits = next(p["width"] for p in self._ports if p["name"] == probe)
        self._cache_dir = cache_dir
        self._log = log
        self._library = None

    @property
    def probe_bits(self):
        return self._probe_bits

    def _load(self):
        if self._library is None:
            find_tools()
            model = build_model(self._verilog, self._top, self._harness,
                                verilator_args=VERILATOR_ARGS, cache_dir=self._cache_dir,
                                log=self._log)
            lib = model.load()
            lib.toggle_words.restype = ctypes.c_uint64
            lib.toggle_words.argtypes = [ctypes.c_int]
            lib.toggle_run.restype = ctypes.c_int
            lib.toggle_run.argtypes = [ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_uint64, ctypes.c_uint64, ctypes.c_void_p]
            if (lib.toggle_words(0), lib.toggle_words(1), lib.toggle_words(2)) != \
                    (self._in_words, self._out_words, port_words(self._probe_bits)):
                raise RuntimeError("the loaded toggle harness does not match the netlist's "
                                   "ports")
            self._library = lib
        return self._library

    def _rows(self, inputs, cycles):
        rows = np.zeros((cycles, self._in_words), np.uint32)
        for name, values in inputs.items():
            if name not in self._inputs:
                raise ValueError(f"{name!r} is not an input of {self._top} (inputs: "
                                 f"{', '.join(self._inputs)})")
            offset, width = self._inputs[name]
            words = port_words(width)
            values = np.asarray(values)
            if values.ndim == 1:
                if width > 63:
                    raise ValueError(f"input {name!r} has {width} bits: give it as a "
                                     f"(cycles, {words}) array of 32-bit words")
                if len(values) != cycles:
                    raise ValueError(f"input {name!r} has {len(values)} values for {cycles} "
                                     f"cycles")
                # Two's complement, then only the port's bits: a value never spills into the
                # unused bits of Verilator's port variables.
                v = values.astype(np.int64).astype(np.uint64) & np.uint64((1 << width) - 1)
                rows[:, offset] = (v & np.uint64(0xFFFFFFFF)).astype(np.uint32)
                if words == 2:
                    rows[:, offset + 1] = (v >> np.uint64(32)).astype(np.uint32)
            else:
                if values.shape != (cycles, words):
                    raise ValueError(f"input {name!r} must be ({cycles}, {words}) words, not "
                                     f"{values.shape}")
                values = values.astype(np.uint32)
                if width % 32:
                    values = values.copy()
                    values[:, -1] &= np.uint32((1 << (width % 32)) - 1)
                rows[:, offset:offset + words] = values
        return rows

    def run(self, inputs, cycles, window=None):
        """Run ``cycles`` clock cycles with ``inputs`` (``{port: values}``: per cycle, a 1-D
        array of integers for ports up to 63 bits, or a (cycles, words) array of 32-bit
        words; ports not given are held at 0) and count toggles in the cycles ``window`` =
        ``(start, stop)`` (default: all). Returns an :class:`Activity`."""
        cycles = int(cycles)
        start, stop = (0, cycles) if window is None else map(int, window)
        if not 0 <= start <= stop <= cycles:
            raise ValueError(f"window must satisfy 0 <= start <= stop <= cycles ({cycles}), "
                             f"not {window!r}")
        rows = self._rows(inputs, cycles)
        lib = self._load()
        outputs = np.zeros((cycles, self._out_words), np.uint32)
        toggles = np.zeros(32 * port_words(self._probe_bits), np.uint64)
        status = lib.toggle_run(cycles, rows.ctypes.data_as(ctypes.c_void_p),
                                outputs.ctypes.data_as(ctypes.c_void_p), start, stop,
                                toggles.ctypes.data_as(ctypes.c_void_p))
        if status != 0:
            raise RuntimeError(f"the toggle harness failed (status {status})")
        if toggles[self._probe_bits:].any():
            raise RuntimeError("the toggle harness counted bits beyond the probe port")
        per_port = {name: outputs[:, o:o + port_words(w)].copy()
                    for name, (o, w) in self._outputs.items()}
        return Activity(toggles=toggles[:self._probe_bits].astype(np.int64),
                        window=(start, stop), outputs=per_port)

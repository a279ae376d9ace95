"""Simulator conformance: the exported Verilog in Icarus Verilog (four-state, event-driven),
the same Verilog in Verilator (two-state) and the Amaranth gateware in Amaranth's simulator
give the same results, in the same order, in the same number of cycles, equal to the golden
model, on every configuration class, under stall patterns that fill every queue, with the
reset held from time zero, raised with an edge, or never given."""

import re

import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.sim.icarus_backend import find_icarus
from madvq.sim.run import SimulationError, simulate
from madvq.sim.stimulus import Batch
from scenarios import (CONFORMANCE_CONFIGS, adversarial_patterns, config_id, make_config,
                       scenario)


def _batch(cfg, pattern, *, reset_cycles, vectors=12, seed=0):
    """The four-segment scenario (codebook and active-count writes between vectors) under
    one adversarial pattern."""
    base = scenario(cfg, seed=seed, vectors=vectors)
    valid, ready = adversarial_patterns(cfg)[pattern]
    return Batch(cfg, base.segments, valid_pattern=valid, ready_pattern=ready,
                 reset_cycles=reset_cycles)


def _same(a, b):
    assert a.cycles == b.cycles
    assert np.array_equal(a.results.index, b.results.index)
    assert np.array_equal(a.results.distance, b.results.distance)
    if a.results.distances is not None:
        assert np.array_equal(a.results.distances, b.results.distances)


@pytest.mark.parametrize("pattern", ["blocked", "bursts", "sparse"])
@pytest.mark.parametrize("params", CONFORMANCE_CONFIGS,
                         ids=[config_id(c) for c in CONFORMANCE_CONFIGS])
def test_three_simulators_agree(params, pattern):
    find_icarus()
    cfg = make_config(params)
    batch = _batch(cfg, pattern, reset_cycles=3, seed=len(pattern))
    icarus = simulate(batch, backend="icarus", reset_style="held")
    icarus.check(batch)
    verilator = simulate(batch, backend="verilator")
    _same(icarus, verilator)
    if cfg.dims * cfg.templates <= 16:          # Amaranth is the slow one
        _same(icarus, simulate(batch, backend="amaranth"))


@pytest.mark.parametrize("reset", ["held", "edge", "none"])
@pytest.mark.parametrize("generation", ["2012", "2005"])
@pytest.mark.parametrize("params", [(3, 5, 4, False, 5, {}), (3, 5, 4, False, 4,
                                                               {"storage": "ram"}),
                                    (3, 3, 4, False, 2, {"arithmetic": "ecp5"}),
                                    (16, 16, 8, False, 16, {})],
                         ids=config_id)
def test_icarus_every_reset(params, generation, reset):
    """Reset held high from time zero (no edge), raised with an edge, or never given (the
    core starts from its initial values): the same results and cycles as Verilator."""
    find_icarus()
    cfg = make_config(params)
    batch = _batch(cfg, "blocked", reset_cycles=0 if reset == "none" else 4)
    run = simulate(batch, backend="icarus", generation=generation,
                   reset_style="edge" if reset == "edge" else "held")
    run.check(batch)
    _same(run, simulate(batch, backend="verilator"))


def test_reset_in_the_middle_of_nothing_changes_no_result():
    """A reset before the first vector empties nothing and keeps the codebook: the batch's
    results do not depend on how long the reset is held."""
    cfg = CoreConfig(dims=3, templates=5, width=4, templates_per_cycle=2)
    short = _batch(cfg, "sparse", reset_cycles=1)
    long = _batch(cfg, "sparse", reset_cycles=37)
    a = simulate(short, backend="icarus")
    b = simulate(long, backend="icarus")
    a.check(short)
    b.check(long)
    assert b.cycles > a.cycles


def test_icarus_reports_x_on_a_handshake():
    """The checker sees X: a core whose Verilog leaves a register without its initial value
    and reset (as a process-based export did at time zero) fails with the port named."""
    find_icarus()
    from madvq.sim.icarus_backend import IcarusBackend
    cfg = CoreConfig(dims=2, templates=3, width=2)
    backend = IcarusBackend(cfg)
    sources = backend.sources()
    core = sources["core.v"]
    # Drop the initial value of the credit counter (its top bit says the result queue has
    # no room).
    broken = re.sub(r"reg (\[\d+:0\]) credit_owed = \d+'h0+;", r"reg \1 credit_owed;", core,
                    count=1)
    assert broken != core
    backend._sources = {**sources, "core.v": broken}
    batch = _batch(cfg, "bursts", reset_cycles=0)
    with pytest.raises(SimulationError, match=r"X or Z on \w+"):
        backend.run(batch)

# amaranth: UnusedElaboratable=no
"""Composing MADCore in an Amaranth design: the README's example (a FIFO before the core, a
component of the user's own and a FIFO after it, joined with ``wiring.connect``), run as the
README has it, must classify exactly as the golden model, also when its output is blocked
long enough to fill every FIFO and the core's queue."""

import re
from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator

from madvq.hdl.config import CoreConfig
from madvq.sim import golden
from madvq.sim.streams import Port, stream_put


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_example():
    """The namespace left by running the README's Amaranth example."""
    text = README.read_text()
    block = re.search(r"<!-- amaranth-example:begin -->\n```python\n(.*?)```\n"
                      r"<!-- amaranth-example:end -->", text, re.S)
    assert block, "README.md has no Amaranth example between its markers"
    namespace = {"__name__": "readme_example"}
    exec(compile(block.group(1), str(README), "exec"), namespace)
    return namespace


def classify(design, cfg, book, vectors, *, blocked=0, seed=0):
    """Load ``book``, send ``vectors`` into ``design`` and take its codes, the consumer
    first blocked for ``blocked`` cycles and then ready at random."""
    rng = np.random.default_rng(seed)
    codes = []
    vector = Port(design.vectors.valid, design.vectors.ready, (design.vectors.payload,))
    codebook = Port(design.codebook.valid, design.codebook.ready,
                    (design.codebook.payload.index, design.codebook.payload.template))

    async def producer(ctx):
        for j, row in enumerate(book):
            await stream_put(ctx, codebook, (j, row.tolist()))
        for row in vectors:
            await stream_put(ctx, vector, (row.tolist(),))

    async def consumer(ctx):
        for _ in range(blocked):
            await ctx.tick()
        for _ in range(20 * (len(vectors) + len(book)) * cfg.latency_cycles + blocked):
            if len(codes) == len(vectors):
                break
            ready = int(rng.random() < 0.5)
            ctx.set(design.codes.ready, ready)
            *_, valid, code = await ctx.tick().sample(design.codes.valid,
                                                      design.codes.payload)
            if valid and ready:
                codes.append(code)

    sim = Simulator(design)
    sim.add_clock(1e-8)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    sim.run()
    return codes


def test_readme_example_as_written():
    ns = readme_example()
    cfg = CoreConfig(dims=16, templates=16, width=8, templates_per_cycle=4)
    quantizer = ns["Quantizer"](cfg)
    rng = np.random.default_rng(1)
    book = rng.integers(0, 256, (16, 16))
    vectors = rng.integers(0, 256, (12, 16))
    assert classify(quantizer, cfg, book, vectors) == \
        golden.classify(cfg, book, vectors).index.tolist()


@pytest.mark.parametrize("cfg", [
    CoreConfig(dims=3, templates=5, width=4, signed=True, templates_per_cycle=2),
    CoreConfig(dims=2, templates=4, width=3),
], ids=lambda c: c.default_name)
def test_blocked_output_fills_every_queue(cfg):
    """Blocked longer than both FIFOs and the core's queue can hold, the design loses
    nothing and keeps the order."""
    design = readme_example()["Quantizer"](cfg)
    rng = np.random.default_rng(2)
    lo, hi = cfg.value_min, cfg.value_max
    book = rng.integers(lo, hi + 1, (cfg.templates, cfg.dims))
    vectors = rng.integers(lo, hi + 1, (60, cfg.dims))
    blocked = 2 * (8 + 8 + cfg.result_queue_depth) + cfg.latency_cycles + 5
    assert classify(design, cfg, book, vectors, blocked=blocked) == \
        golden.classify(cfg, book, vectors).index.tolist()


def test_the_check_sees_dropped_results():
    """The check is a real one: a WinnerOnly that ignores back-pressure (always ready)
    drops results once the output FIFO is full, and the codes no longer match."""
    ns = readme_example()
    cfg = CoreConfig(dims=2, templates=4, width=3)
    honest = ns["WinnerOnly"]

    class Careless(honest):
        def elaborate(self, platform):
            m = super().elaborate(platform)
            m.d.comb += self.results.ready.eq(1)
            return m
    ns["WinnerOnly"] = Careless
    rng = np.random.default_rng(2)
    book = rng.integers(0, 8, (4, 2))
    vectors = rng.integers(0, 8, (40, 2))
    codes = classify(ns["Quantizer"](cfg), cfg, book, vectors, blocked=60)
    assert codes != golden.classify(cfg, book, vectors).index.tolist()

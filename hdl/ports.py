"""The core with flat, plainly named ports: what ``madvq generate`` exports to Verilog.

:func:`port_table` lists every port with its direction, width and role; :class:`FlatMADCore`
is built from that table, and the interface JSON is written from it too, so the two cannot
disagree. Port names are plain identifiers that are neither Verilog nor SystemVerilog
keywords. A data port packs lane i at bits ``[i*W +: W]``; with ``top_k`` K > 1,
``result_index`` and ``result_distance`` pack the k-th nearest template at bits
``[k*IW +: IW]`` and ``[k*D +: D]`` (K times the single-winner width).
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .core import MADCore
from .layouts import codebook_layout, result_layout


__all__ = ["port_table", "FlatMADCore"]


def port_table(config):
    """Every port of the exported core, in order: dicts with ``name``, ``direction``
    (``input``/``output``), ``width``, ``stream`` (the stream it belongs to: ``vector``,
    ``codebook``, ``active_templates`` or ``result``; ``None`` for the clock and reset) and
    ``role`` (``clock``, ``reset`` (synchronous, active high), ``valid``, ``ready``, or the
    payload field it carries: ``data``, ``index``, ``distance``, ``distances``,
    ``count``)."""
    cb = codebook_layout(config)
    res = result_layout(config)
    ports = [
        ("clk", "input", 1, None, "clock"),
        ("rst", "input", 1, None, "reset"),
        ("vector_valid", "input", 1, "vector", "valid"),
        ("vector_ready", "output", 1, "vector", "ready"),
        ("vector_data", "input", config.dims * config.width, "vector", "data"),
        ("codebook_valid", "input", 1, "codebook", "valid"),
        ("codebook_ready", "output", 1, "codebook", "ready"),
        ("codebook_index", "input", cb["index"].width, "codebook", "index"),
        ("codebook_data", "input", cb["template"].width, "codebook", "data"),
        ("active_templates_valid", "input", 1, "active_templates", "valid"),
        ("active_templates_ready", "output", 1, "active_templates", "ready"),
        ("active_templates", "input", config.active_width, "active_templates", "count"),
        ("result_valid", "output", 1, "result", "valid"),
        ("result_ready", "input", 1, "result", "ready"),
        ("result_index", "output", res["index"].width, "result", "index"),
        ("result_distance", "output", res["distance"].width, "result", "distance"),
    ]
    if config.distances:
        ports.append(("result_distances", "output", res["distances"].width, "result",
                      "distances"))
    return [dict(name=n, direction=d, width=w, stream=st, role=r) for n, d, w, st, r in ports]


class FlatMADCore(wiring.Component):
    """:class:`~madvq.hdl.core.MADCore` with one plain port per stream signal and field
    (``clk``/``rst`` come from the ``sync`` domain). Same latency and throughput; adds no
    logic."""

    def __init__(self, config):
        self._config = config
        members = {}
        for port in port_table(config):
            if port["name"] in ("clk", "rst"):
                continue
            members[port["name"]] = (In if port["direction"] == "input" else Out)(port["width"])
        super().__init__(members)

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        core = m.submodules.core = MADCore(self._config)
        m.d.comb += [
            core.vector.valid.eq(self.vector_valid),
            self.vector_ready.eq(core.vector.ready),
            core.vector.payload.eq(self.vector_data),
            core.codebook.valid.eq(self.codebook_valid),
            self.codebook_ready.eq(core.codebook.ready),
            core.codebook.payload.index.eq(self.codebook_index),
            core.codebook.payload.template.eq(self.codebook_data),
            core.active.valid.eq(self.active_templates_valid),
            self.active_templates_ready.eq(core.active.ready),
            core.active.payload.eq(self.active_templates),
            self.result_valid.eq(core.result.valid),
            core.result.ready.eq(self.result_ready),
            self.result_index.eq(core.result.payload.index),
            self.result_distance.eq(core.result.payload.distance),
        ]
        if self._config.distances:
            m.d.comb += self.result_distances.eq(core.result.payload.distances)
        return m

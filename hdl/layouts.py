"""Amaranth shapes of the values a core exchanges, all derived from one :class:`CoreConfig`."""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data


__all__ = ["value_shape", "vector_layout", "codebook_layout", "result_layout",
           "candidate_layout", "winner_layout"]


def value_shape(config):
    """One vector component or template value: W bits, signed or not."""
    return signed(config.width) if config.signed else unsigned(config.width)


def vector_layout(config):
    """N values; value i occupies bits [i*W +: W]."""
    return data.ArrayLayout(value_shape(config), config.dims)


def codebook_layout(config):
    """One codebook write: the template index and its N values."""
    return data.StructLayout({
        "index": unsigned(config.index_width),
        "template": vector_layout(config),
    })


def result_layout(config):
    """The nearest active template, its distance (with ``top_k`` K > 1: the K nearest and
    their distances, nearest first) and, when the core is built with ``distances=True``,
    the distances to all M templates."""
    fields = {
        "index": unsigned(config.index_width),
        "distance": unsigned(config.distance_width),
    }
    if config.top_k > 1:
        # The K nearest, nearest first: slot k at bits [k*IW +: IW] and [k*D +: D].
        fields = {"index": data.ArrayLayout(unsigned(config.index_width), config.top_k),
                  "distance": data.ArrayLayout(unsigned(config.distance_width), config.top_k)}
    if config.distances:
        fields["distances"] = data.ArrayLayout(unsigned(config.distance_width), config.templates)
    return data.StructLayout(fields)


def candidate_layout(config):
    """One distance unit's offer to the winner-take-all: valid, and its distance."""
    return data.StructLayout({"valid": 1, "distance": unsigned(config.distance_width)})


def winner_layout(config):
    """The nearest valid candidate of a round: valid, its distance and its lane (unit)."""
    return data.StructLayout({
        "valid": 1,
        "distance": unsigned(config.distance_width),
        "lane": unsigned(config.lane_width),
    })

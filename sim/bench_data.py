"""Codebooks and vectors for the testbenches that madvq generates (cocotb, FuseSoC).

Random values plus the cases where a core goes wrong first: values at both ends of the
range, a vector equal to a template (distance 0), two equal templates (a tie, which the
lower index wins), a vector half-way between two templates. Deterministic for a seed.
"""

import numpy as np


__all__ = ["bench_codebook", "bench_vectors", "corner_vectors"]


def corner_vectors(config):
    """All lowest, all highest, all zero, and alternating lowest/highest (both phases)."""
    lo, hi = config.value_min, config.value_max
    n = config.dims
    alternating = np.array([[lo, hi][i % 2] for i in range(n)], dtype=np.int64)
    return np.array([np.full(n, lo), np.full(n, hi), np.zeros(n, np.int64),
                     alternating, alternating[::-1].copy()], dtype=np.int64)


def bench_codebook(config, rng):
    """An M x N codebook: random, with template 0 all lowest, template 1 all highest and,
    when M >= 4, template 3 a copy of template 2 (a tie that template 2 must win)."""
    lo, hi = config.value_min, config.value_max
    book = rng.integers(lo, hi + 1, (config.templates, config.dims), dtype=np.int64)
    book[0] = lo
    if config.templates > 1:
        book[1] = hi
    if config.templates >= 4:
        book[3] = book[2]
    return book


def bench_vectors(config, codebook, count, rng):
    """``count`` vectors: the corner vectors, every template itself, midpoints of template
    pairs, then random ones (the special ones first, cut to ``count``)."""
    lo, hi = config.value_min, config.value_max
    special = [corner_vectors(config), np.asarray(codebook, dtype=np.int64)]
    if len(codebook) > 1:
        pairs = rng.integers(0, len(codebook), (min(8, len(codebook)), 2))
        special.append((codebook[pairs[:, 0]] + codebook[pairs[:, 1]]) // 2)
    special = np.concatenate(special)[:count]
    rest = rng.integers(lo, hi + 1, (count - len(special), config.dims), dtype=np.int64)
    return np.concatenate([special, rest])

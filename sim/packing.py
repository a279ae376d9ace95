"""Bit packing between NumPy arrays and the core's flat ports.

Lane i of a vector or template sits at bits ``[i*W +: W]`` (two's complement when signed);
``result_distances`` packs template j at bits ``[j*D +: D]``. Every simulator and the
board driver pack and unpack through these functions.
"""

import numpy as np


__all__ = ["pack_rows", "unpack_rows", "unpack_distances"]


def pack_rows(config, rows):
    """Each row of N values as one Python int of N*W bits."""
    rows = np.asarray(rows, dtype=np.int64)
    mask = (1 << config.width) - 1
    # Shift as Python ints: N*W may exceed 64 bits.
    return [sum((int(v) & mask) << (i * config.width) for i, v in enumerate(row))
            for row in rows]


def unpack_rows(config, words):
    """Inverse of :func:`pack_rows`: a (len(words), N) int64 array."""
    W, N = config.width, config.dims
    mask = (1 << W) - 1
    out = np.array([[(int(w) >> (i * W)) & mask for i in range(N)] for w in words],
                   dtype=np.int64).reshape(len(words), N)
    if config.signed:
        out = np.where(out >= 1 << (W - 1), out - (1 << W), out)
    return out


def unpack_distances(config, words):
    """The (len(words), M) distances packed in ``result_distances`` words (template j at
    bits ``[j*D +: D]``)."""
    D = config.distance_width
    mask = (1 << D) - 1
    return np.array([[(int(w) >> (j * D)) & mask for j in range(config.templates)]
                     for w in words], dtype=np.int64).reshape(len(words), config.templates)

"""Bit packing between NumPy arrays and the core's flat ports.

Lane i of a vector or template sits at bits ``[i*W +: W]`` (two's complement when signed);
``result_distances`` packs template j at bits ``[j*D +: D]``; with ``top_k`` K > 1,
``result_index`` and ``result_distance`` pack slot k (the k-th nearest) at bits
``[k*IW +: IW]`` and ``[k*D +: D]``. Every simulator and the
board driver pack and unpack through these functions: ``pack_rows``/``unpack_rows``/
``unpack_distances`` work on Python ints (any width, for per-item use), ``pack_words`` and
``unpack_words`` on whole arrays at once, as little-endian 32-bit words (word k holds bits
``[32k +: 32]``), which is how a C++ harness sees Verilator's wide ports.
"""

import numpy as np


__all__ = ["pack_rows", "unpack_rows", "unpack_distances", "unpack_nearest", "pack_words",
           "unpack_words"]


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


def unpack_nearest(config, index_words, distance_words):
    """``(index, distance)`` arrays from the ``result_index`` and ``result_distance`` values
    (Python ints) of several results: (len,) each, or (len, K) with ``top_k`` K > 1."""
    K = config.top_k
    if K == 1:
        return (np.array([int(w) for w in index_words], dtype=np.int64),
                np.array([int(w) for w in distance_words], dtype=np.int64))

    def slots(words, width):
        mask = (1 << width) - 1
        return np.array([[(int(w) >> (k * width)) & mask for k in range(K)] for w in words],
                        dtype=np.int64).reshape(len(words), K)
    return slots(index_words, config.index_width), slots(distance_words, config.distance_width)


def _pieces(lane, width):
    """``(word, offset, bits, done)`` pieces of lane ``lane`` of ``width`` bits: ``bits``
    bits at ``offset`` in 32-bit word ``word`` hold the lane's bits ``[done +: bits]``."""
    start, done = lane * width, 0
    while done < width:
        word, offset = divmod(start + done, 32)
        bits = min(32 - offset, width - done)
        yield word, offset, bits, done
        done += bits


def pack_words(rows, width):
    """(K, L) values (two's complement when negative) as a (K, ceil(L*width/32)) uint32
    array, lane i at bits ``[i*width +: width]``; ``width`` <= 32. One NumPy operation per
    lane piece, never one per row."""
    rows = np.asarray(rows, dtype=np.int64)
    k, lanes = rows.shape
    words = max(1, -(-lanes * width // 32))
    if width in (8, 16, 32):
        # Byte-aligned lanes: the little-endian bytes of the values are the words.
        out = np.zeros((k, words * (32 // width)), dtype=f"<u{width // 8}")
        out[:, :lanes] = rows.astype(out.dtype)      # wraps negatives to two's complement
        return out.view("<u4").reshape(k, words).astype(np.uint32, copy=False)
    # Lanes and words as rows (transposed), so that every operation runs on contiguous memory.
    values = np.ascontiguousarray((rows & ((1 << width) - 1)).T, dtype=np.uint64)
    out = np.zeros((words, k), dtype=np.uint64)
    for lane in range(lanes):
        for word, offset, bits, done in _pieces(lane, width):
            piece = values[lane] >> np.uint64(done) if done else values[lane]
            if bits < width:
                piece = piece & np.uint64((1 << bits) - 1)
            out[word] |= piece << np.uint64(offset)
    return np.ascontiguousarray(out.T, dtype=np.uint32)


def unpack_words(words, count, width):
    """Inverse of :func:`pack_words` for unsigned lanes: ``count`` lanes of ``width`` bits
    (<= 63) from a (K, n) array of 32-bit words, as a (K, count) int64 array."""
    words = np.ascontiguousarray(np.asarray(words).T, dtype=np.uint64)
    out = np.zeros((count, words.shape[1]), dtype=np.uint64)
    for lane in range(count):
        for word, offset, bits, done in _pieces(lane, width):
            piece = (words[word] >> np.uint64(offset)) & np.uint64((1 << bits) - 1)
            out[lane] |= piece << np.uint64(done) if done else piece
    return np.ascontiguousarray(out.T, dtype=np.int64)

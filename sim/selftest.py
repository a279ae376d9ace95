"""The self-test's vectors and checksum, bit-exact with :class:`madvq.hdl.selftest.SelfTest`.

``vectors(config, seed, count)`` gives the LFSR vectors the board generates;
``expected(config, codebook, active, seed, count)`` the ``(sum1, sum2)`` its results must
sum to. Both work in chunks, so a million vectors take about a second.
"""

import numpy as np

from madvq.hdl.selftest import LFSR_DEGREE, LFSR_TAP, SEED_BITS, START
from . import golden


__all__ = ["lfsr_bits", "vectors", "checksum", "expected", "check_seed", "check_count"]


def check_seed(seed):
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) \
            or not 1 <= seed < 1 << SEED_BITS:
        raise ValueError(f"self-test seed must be an integer from 1 to {(1 << SEED_BITS) - 1}, "
                         f"not {seed!r}")
    return int(seed)


def check_count(count):
    if not isinstance(count, (int, np.integer)) or isinstance(count, bool) \
            or not 1 <= count < 1 << 32:
        raise ValueError(f"self-test count must be an integer from 1 to {(1 << 32) - 1}, "
                         f"not {count!r}")
    return int(count)


class _Bits:
    """The LFSR sequence, produced in growing blocks: ``s[t + 127*2^i] = s[t + 2^i] ^ s[t]``
    holds for every i (squaring the characteristic polynomial), so each block is one NumPy
    XOR however long it is."""

    def __init__(self, seed):
        seed = check_seed(seed)
        self.bits = np.array([((seed >> (j % SEED_BITS)) ^ (START >> j)) & 1
                              for j in range(LFSR_DEGREE)], dtype=np.uint8)
        self.offset = 0            # sequence index of self.bits[0]

    def take(self, start, n):
        """Bits ``s[start : start + n]``; ``start`` never goes backwards."""
        need = start + n - self.offset
        while len(self.bits) < need:
            have = len(self.bits)
            i = 0
            while LFSR_DEGREE << (i + 1) <= have and (126 << (i + 1)) <= 1 << 22:
                i += 1
            lag, tap = LFSR_DEGREE << i, LFSR_TAP << i
            block = min((LFSR_DEGREE - LFSR_TAP) << i, need - have)
            new = self.bits[have - lag:have - lag + block] ^ \
                self.bits[have - lag + tap:have - lag + tap + block]
            self.bits = np.concatenate([self.bits, new])
        out = self.bits[start - self.offset:start - self.offset + n]
        # Keep only what later blocks can still reach.
        keep = start + n - self.offset - ((LFSR_DEGREE << 16) + 1)
        if keep > 0 and len(self.bits) > 1 << 24:
            self.bits = self.bits[keep:]
            self.offset += keep
        return out


def lfsr_bits(seed, n):
    """The first ``n`` bits of the sequence for ``seed`` (uint8 0/1 array)."""
    return _Bits(seed).take(0, n).copy()


def _to_vectors(config, bits):
    W, N = config.width, config.dims
    b = bits.reshape(-1, N, W).astype(np.int64)
    values = (b << np.arange(W, dtype=np.int64)).sum(axis=2)
    if config.signed:
        values = np.where(values >= 1 << (W - 1), values - (1 << W), values)
    return values


def _chunks(config, seed, count, chunk):
    gen = _Bits(seed)
    B = config.dims * config.width
    for start in range(0, count, chunk):
        k = min(chunk, count - start)
        yield _to_vectors(config, gen.take(start * B, k * B))


def vectors(config, seed, count):
    """The ``count`` vectors the board's self-test generates from ``seed``: (count, N)."""
    count = check_count(count)
    return np.concatenate(list(_chunks(config, seed, count, 1 << 16)))


def _words(config, results):
    D = config.distance_width
    mask = np.uint64(0xFFFFFFFF)
    if config.top_k > 1:
        # The low 32 bits of the result's distances (K slots) and then its indices, as the
        # gateware's Cat(distance, index).
        fields = ([(results.distance[:, s], D) for s in range(config.top_k)]
                  + [(results.index[:, s], config.index_width) for s in range(config.top_k)])
        word = np.zeros(len(results), np.uint64)
        at = 0
        for values, width in fields:
            if at >= 32:
                break
            word |= (values.astype(np.uint64) & np.uint64((1 << width) - 1)) << np.uint64(at)
            at += width
        return word & mask
    dist = results.distance.astype(np.uint64)
    if D >= 32:
        return dist & mask
    return ((results.index.astype(np.uint64) << np.uint64(D)) | dist) & mask


def checksum(config, results, start=(0, 0)):
    """``(sum1, sum2)`` of a run of results, continuing from ``start``."""
    s1, s2 = (np.uint64(v) for v in start)
    w = _words(config, results)
    with np.errstate(over="ignore"):
        c = np.cumsum(w, dtype=np.uint64) + s1     # wraps mod 2^64: fine mod 2^32
        s2 = s2 + c.sum(dtype=np.uint64)
        s1 = c[-1] if len(c) else s1
    return int(s1) & 0xFFFFFFFF, int(s2) & 0xFFFFFFFF


def expected(config, codebook, active, seed, count, chunk=1 << 16):
    """``(sum1, sum2)`` for ``count`` self-test vectors from ``seed`` classified with the
    whole stored ``codebook`` (M x N) and ``active`` templates."""
    count = check_count(count)
    sums = (0, 0)
    for vecs in _chunks(config, seed, count, chunk):
        sums = checksum(config, golden.classify(config, codebook, vecs, active), sums)
    return sums

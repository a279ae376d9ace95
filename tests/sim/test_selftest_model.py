import numpy as np
import pytest

from madvq.hdl.config import CoreConfig
from madvq.hdl.selftest import START, initial_masks, step_masks, window_width
from madvq.sim import golden
from madvq.sim import selftest as model


def naive_bits(seed, n):
    s = [((seed >> (j % 32)) ^ (START >> j)) & 1 for j in range(127)]
    while len(s) < n:
        s.append(s[-126] ^ s[-127])
    return np.array(s[:n], dtype=np.uint8)


def test_polynomial_is_irreducible():
    # x^127 + x + 1: irreducible over GF(2) iff x^(2^127) = x mod it (127 is prime), and
    # then primitive since 2^127 - 1 is prime: the sequence has the maximal period.
    f = (1 << 127) | 0b11

    def mulmod(a, b):
        r = 0
        while b:
            if b & 1:
                r ^= a
            b >>= 1
            a <<= 1
            if a >> 127 & 1:
                a ^= f
        return r
    p = 2
    for _ in range(127):
        p = mulmod(p, p)
    assert p == 2


def test_fast_sequence_matches_the_recurrence():
    assert (model.lfsr_bits(0xDEADBEEF, 20000) == naive_bits(0xDEADBEEF, 20000)).all()


@pytest.mark.parametrize("cfg", [CoreConfig(dims=4, width=5), CoreConfig(),
                                 CoreConfig(dims=3, width=3, signed=True)])
def test_gateware_masks_walk_the_same_sequence(cfg):
    seed = 0x1234ABCD
    bits = naive_bits(seed, 40 * cfg.dims * cfg.width + window_width(cfg))
    parity = lambda x: bin(x).count("1") & 1
    window = [parity(mk & (seed | 1 << 32)) for mk in initial_masks(cfg)]
    B = cfg.dims * cfg.width
    for k in range(40):
        assert window[:B] == bits[k * B:(k + 1) * B].tolist()
        state = sum(b << j for j, b in enumerate(window))
        window = [parity(state & mk) for mk in step_masks(cfg)]


def test_vectors_and_chunked_checksum():
    cfg = CoreConfig(dims=3, templates=4, width=6, signed=True)
    v = model.vectors(cfg, 99, 1000)
    assert v.shape == (1000, 3) and v.min() >= -32 and v.max() <= 31
    book = np.random.default_rng(0).integers(-32, 32, (4, 3))
    r = golden.classify(cfg, book, v, 3)
    words = [((int(i) << cfg.distance_width) | int(d)) & 0xFFFFFFFF
             for i, d in zip(r.index, r.distance)]
    s1 = s2 = 0
    for w in words:
        s1 = (s1 + w) & 0xFFFFFFFF
        s2 = (s2 + s1) & 0xFFFFFFFF
    assert model.expected(cfg, book, 3, 99, 1000, chunk=77) == (s1, s2)


@pytest.mark.parametrize("bad", [0, -1, 1 << 32, 1.5, True])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match="self-test seed must be an integer from 1"):
        model.check_seed(bad)

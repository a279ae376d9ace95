"""Stimulus shared by the tests of every simulator: corner vectors, a four-segment scenario
with codebook rewrites in flight, and a spread of core configurations."""

import numpy as np

from madvq.hdl.config import CoreConfig
from madvq.sim.stimulus import Batch, Segment, random_pattern


def corner_vectors(cfg):
    lo, hi = cfg.value_min, cfg.value_max
    n = cfg.dims
    alternating = np.array([[lo, hi][i % 2] for i in range(n)])
    return np.array([np.full(n, lo), np.full(n, hi), np.zeros(n, np.int64),
                     alternating, alternating[::-1].copy()])


def scenario(cfg, seed, vectors=24, stalls=None):
    """Four segments: a random codebook with corner-value vectors; a new active count alone,
    arriving right behind a vector; templates rewritten while results are in flight, with
    another active count; an all-equal codebook (an M-way tie)."""
    rng = np.random.default_rng(seed)
    lo, hi = cfg.value_min, cfg.value_max
    M, N = cfg.templates, cfg.dims

    def values(*shape):
        return rng.integers(lo, hi + 1, shape, dtype=np.int64)

    book = values(M, N)
    book[0] = lo
    if M > 1:
        book[1] = hi
    # The last vector matches the last template exactly: it must still win when the
    # active count drops right behind it (the next segment).
    first = np.concatenate([corner_vectors(cfg), book[:3], values(vectors, N), book[-1:]])

    rewrite = rng.choice(M, size=max(1, M // 2), replace=False)
    m = max(1, M - 2) if M > 2 else M
    second = np.concatenate([values(vectors, N), book[:2]])

    tie = values(1, N)
    third = np.concatenate([tie, values(vectors // 2, N), corner_vectors(cfg)])

    fewer = np.concatenate([values(vectors // 2, N), book[-1:]])
    segments = [
        Segment(first, np.arange(M), book, M),
        # Only the active count changes: it lands while the last vector is mid-rounds.
        Segment(fewer, active=1 + (M - 1) // 2),
        Segment(second, rewrite, values(len(rewrite), N), m),
        Segment(third, np.arange(M), np.repeat(tie, M, axis=0), None),
    ]
    patterns = {}
    if stalls is not None:
        patterns = dict(valid_pattern=random_pattern(rng, 37, stalls),
                        ready_pattern=random_pattern(rng, 41, stalls))
    return Batch(cfg, segments, **patterns)


# (dims, templates, width, signed, templates_per_cycle, extra): every N in {1, 3, 16}, M in
# {1, 5, 16}, W in {1, 4, 8, 12, 32}, both signs, P in {1, a divisor, a non-divisor, M},
# both codebook storages, with and without all distances.
CONFIGS = [
    (1, 1, 1, False, 1, {}),
    (1, 5, 4, True, 2, {}),
    (1, 16, 8, False, 16, {}),
    (1, 5, 4, False, 1, {"storage": "ram"}),
    (3, 1, 12, True, 1, {}),
    (3, 5, 1, False, 5, {}),
    (3, 5, 8, True, 1, {}),
    (3, 16, 4, False, 4, {}),
    (3, 16, 12, True, 3, {}),
    (3, 16, 4, False, 4, {"storage": "ram"}),
    (3, 5, 4, False, 5, {"distances": True}),
    (3, 16, 8, True, 3, {"distances": True, "storage": "ram"}),
    (3, 5, 32, True, 2, {}),
    (2, 3, 32, False, 3, {"distances": True}),
    (16, 1, 4, True, 1, {}),
    (16, 5, 12, False, 3, {}),
    (16, 5, 1, True, 5, {}),
    (16, 5, 8, True, 2, {"storage": "ram"}),
    (16, 16, 8, False, 16, {}),
    (16, 16, 8, True, 8, {}),
    (16, 16, 1, False, 5, {}),
    (16, 16, 12, True, 1, {}),
    (16, 16, 8, False, 16, {"distances": True}),
]


def config_id(c):
    n, m, w, s, p, extra = c
    return f"{n}x{m}x{w}{'s' if s else 'u'}p{p}" + "".join(f"-{k}" for k in extra)


def make_config(params):
    n, m, w, s, p, extra = params
    return CoreConfig(dims=n, templates=m, width=w, signed=s, templates_per_cycle=p, **extra)


def adversarial_patterns(cfg):
    """Stall patterns that try to break a core's flow control, by name: each is
    ``(valid_pattern, ready_pattern)`` for :class:`Batch`.

    * ``blocked``: the consumer is not ready for 2 x the result queue's depth + the latency
      + 5 cycles, then takes 4 results: every queue and every credit fills, again and again.
    * ``bursts``: long on/off bursts on both sides with periods that drift against each other.
    * ``sparse``: the consumer is ready 1 cycle in 8, producers may start 1 cycle in 3.
    """
    closed = 2 * cfg.result_queue_depth + cfg.latency_cycles + 5
    return {
        "blocked": (None, np.array([False] * closed + [True] * 4)),
        "bursts": (np.array([True] * 5 + [False] * 7), np.array([True] * 16 + [False] * 24)),
        "sparse": (np.array([True, False, False]), np.array([True] + [False] * 7)),
    }


# Configuration classes of the simulator conformance matrix (dims, templates, width, signed,
# templates_per_cycle, extra): both arithmetics, both storages (and partial RAM), P = M,
# P dividing M, P not dividing M, P = 1, signed, W = 1 and 32, all distances, top-K; small enough
# for a four-state event-driven simulator.
CONFORMANCE_CONFIGS = [
    (3, 5, 4, False, 5, {}),
    (2, 4, 3, False, 2, {}),
    (3, 5, 4, True, 2, {}),
    (1, 3, 2, False, 1, {}),
    (3, 5, 4, False, 2, {"storage": "ram"}),
    (3, 6, 4, True, 3, {"storage": "ram", "ram_lanes": 1}),
    (3, 5, 1, False, 5, {}),
    (2, 3, 32, True, 3, {"distances": True}),
    (3, 6, 8, False, 2, {"distances": True, "storage": "ram"}),
    (16, 16, 8, False, 16, {}),
    (1, 1, 1, False, 1, {"arithmetic": "ecp5"}),
    (3, 3, 4, False, 3, {"arithmetic": "ecp5"}),
    (2, 4, 4, True, 2, {"arithmetic": "ecp5"}),
    (3, 3, 4, False, 2, {"arithmetic": "ecp5"}),
    (2, 5, 4, False, 4, {"arithmetic": "ecp5"}),
    (4, 3, 6, True, 1, {"arithmetic": "ecp5", "storage": "ram"}),
    (2, 3, 32, False, 3, {"arithmetic": "ecp5", "distances": True}),
    # The K nearest (top_k > 1): P not dividing M with the running merge, and P = M.
    (3, 5, 4, True, 2, {"top_k": 3}),
    (2, 4, 3, False, 4, {"top_k": 4, "distances": True}),
]

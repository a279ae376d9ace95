"""Codebooks for the core's L1 distance: k-medians and LBG splitting.

``train_codebook(vectors, config)`` returns an M x N codebook of W-bit templates (M, N, W and
the signedness from a :class:`~madvq.hdl.config.CoreConfig`, or from a mapping of those
parameters) that makes the mean L1 distance from each vector to its nearest template (the
core's ``distance`` of its ``winner``) small, and a :class:`TrainingRecord` of how it got
there.

k-medians is the L1 counterpart of k-means: each vector goes to its nearest template (by
the golden model, ties to the lowest index as in the hardware), then each template becomes
the per-coordinate median of its vectors, which minimises the cluster's L1 cost. Each step
can only lower the mean distance, so the distortion never increases from one iteration to
the next and the codebook is never worse than its seed. The lower median is taken (for an
even count, the smaller of the two middle values): it is a data value, so templates are
W-bit integers without rounding, and it minimises the cost as well as any value between
the two middle ones.

Methods:

* ``"kmedians"``: seeded by k-medians++ (each next seed drawn with probability proportional
  to its L1 distance from the nearest seed so far), then iterated.
* ``"lbg"``: Linde-Buzo-Gray splitting: start from the median of all vectors, split the
  templates whose clusters cost most into two (moved apart by half their cluster's mean
  absolute deviation along a random sign pattern, rounded and clipped to W bits), iterate
  k-medians after every split, until there are M templates.

A template left without vectors is re-seeded with the vector farthest from its own template
(distinct vectors for several empty ones). Everything random comes from ``seed``: the same
vectors, parameters and seed give the same codebook.

Speed: the first assignment compares every vector with every template through the golden
model's chunked distances and keeps those distances as lower bounds. When the templates
move, each bound drops by how far its template moved (L1 is a metric: triangle
inequality), and only the pairs whose bound does not exceed the vector's current distance
are measured again (Elkan's method; past ``BOUNDS_BUDGET`` bytes of bounds, a full search
every iteration). A template whose bound is above that distance is strictly farther than
the winner, so the result is exactly the golden model's assignment, ties included. Medians
come from one stable sort by template and a partition per template, never a Python loop
over vectors; k-medians++ draws its seeds from a sample of ``SEEDING_SAMPLE`` vectors per
template.
"""

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

import numpy as np

from madvq.hdl.config import CoreConfig
from . import golden


__all__ = ["METHODS", "TrainingRecord", "train_codebook", "training_config", "distortion"]


METHODS = ("kmedians", "lbg")

# Vectors per assignment chunk when the caller gives none: bounds the memory of the gathers
# (chunk x N values) while keeping the Python overhead per chunk negligible.
DEFAULT_CHUNK = 1 << 16

# Lower bounds on the distance from every vector to every template cost K x M' values of
# the golden model's work type (2 bytes for 8-bit values and up to 128 dimensions); past this
# many bytes they are not kept and each iteration compares every vector with every template
# (same result, slower).
BOUNDS_BUDGET = 256 << 20

# k-medians++ draws its seeds from at most this many vectors per template (a uniform sample).
SEEDING_SAMPLE = 64


@dataclass
class TrainingRecord:
    """How a codebook was trained.

    ``distortion[i]`` is the mean L1 distance (the core's distance, summed over the N
    dimensions) from each vector to its nearest template after iteration ``i``; entry 0 is
    the seed codebook's (for ``lbg``, the single starting template's).
    ``templates_per_iteration[i]`` is the number of templates at that point (always M for
    ``kmedians``), ``reseeded[i]`` the empty templates re-seeded before it and
    ``measured[i]`` the vector-template distances computed to get there (K x M' for a full
    search; fewer when bounds proved the rest farther)."""
    method: str
    seed: int
    iterations: int
    dims: int
    templates: int
    width: int
    signed: bool
    vectors: int
    distortion: list = field(default_factory=list)
    templates_per_iteration: list = field(default_factory=list)
    reseeded: list = field(default_factory=list)
    measured: list = field(default_factory=list)
    converged: bool = False
    seconds: float = 0.0

    @property
    def final_distortion(self):
        return self.distortion[-1]

    def to_dict(self):
        d = asdict(self)
        d["final_distortion"] = self.final_distortion
        d["mean_absolute_difference"] = self.final_distortion / self.dims
        return d


def training_config(vectors_or_dims, templates=16, width=8, signed=False):
    """The :class:`CoreConfig` that training uses for ``templates`` templates of ``width``
    bits. Only dims, templates, width and signedness matter to training; the core is made
    one template per cycle so that no hardware size limit (distance cells) refuses a
    codebook the golden model can use."""
    dims = vectors_or_dims if isinstance(vectors_or_dims, int) \
        else np.asarray(vectors_or_dims).shape[-1]
    return CoreConfig(dims=dims, templates=templates, width=width, signed=signed,
                      templates_per_cycle=1)


def _as_config(config, vectors):
    if isinstance(config, CoreConfig):
        return config
    if isinstance(config, Mapping):
        unknown = set(config) - {"templates", "width", "signed"}
        if unknown:
            raise TypeError(f"training parameters are templates, width and signed, not "
                            f"{', '.join(sorted(unknown))}")
        return training_config(vectors, **config)
    raise TypeError(f"config must be a CoreConfig or a mapping of templates, width and "
                    f"signed, not {config!r}")


def _check_int(name, value, low, high=None):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low \
            or (high is not None and value > high):
        allowed = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {allowed}, not {value!r}")
    return int(value)


def distortion(config, codebook, vectors):
    """Mean L1 distance from ``vectors`` to their nearest template of ``codebook`` (m x N,
    m <= M), as the core measures it (the golden model's assignment)."""
    total = 0
    count = 0
    for _, d in golden.distance_chunks(config, codebook, vectors):
        total += int(d.min(axis=0).sum(dtype=np.int64))
        count += d.shape[1]
    return total / count


def _nearest(d):
    """Per column of the (M', C) distances ``d``: the nearest row (ties to the lowest
    index, as the core) and its distance."""
    # A running minimum over rows: each step is one vector operation over the chunk, and the
    # strict comparison keeps the first of equal distances. (argmin along the template axis
    # of a chunk is about twice as slow.)
    best = d[0].copy()
    index = np.zeros(d.shape[1], np.int16)
    for j in range(1, len(d)):
        row = d[j]
        index[row < best] = j
        np.minimum(best, row, out=best)
    return index, best


class _Assignment:
    """Each vector's nearest template (``index``, ties to the lowest index) and its exact
    distance (``distance``), kept exact across codebook updates.

    :meth:`search` compares every vector with every template through the golden model's
    chunked distances and keeps those distances as lower bounds. :meth:`update` follows a
    move of the templates: each bound drops by how far its template moved (the triangle
    inequality of the L1 metric), and only the pairs whose bound does not exceed the
    vector's current distance are measured again (Elkan's method). A template whose bound is
    above that distance is strictly farther than the winner, so the result is the golden
    model's, ties included.

    Bounds are stored raised by ``shift`` (per template, its moves since the row was last
    rebased): a move then costs one number per template instead of a pass over K x M'
    bounds, and a row is rebased only when its shift nears the type's range.
    """

    def __init__(self, config, vectors, chunk):
        self.config = config
        self.vectors = vectors
        self.chunk = chunk
        k = len(vectors)
        self.index = np.zeros(k, np.int16)      # M <= 4096
        # Distances and raised bounds need twice the largest distance.
        self.bound_type = next(t for t in (np.int16, np.int32, np.int64)
                               if np.iinfo(t).max >= 2 * config.distance_max)
        self.headroom = int(np.iinfo(self.bound_type).max) - config.distance_max
        self.distance = np.zeros(k, self.bound_type)
        self.lower = None
        self.shift = None
        self.columns = None

    def search(self, codebook):
        """Compare every vector with every template; return the distances measured."""
        k, m = len(self.vectors), len(codebook)
        self.lower = None
        self.shift = np.zeros(m, np.int64)
        keep = k * m * np.dtype(self.bound_type).itemsize <= BOUNDS_BUDGET
        for lo in range(0, k, self.chunk):
            for start, d in golden.distance_chunks(self.config, codebook,
                                                   self.vectors[lo:lo + self.chunk]):
                if self.columns is None:
                    # The golden model's work type holds every value, difference and sum.
                    self.columns = np.ascontiguousarray(self.vectors.T, dtype=d.dtype)
                if keep and self.lower is None:
                    self.lower = np.empty((m, k), self.bound_type)
                sel = slice(lo + start, lo + start + d.shape[1])
                self.index[sel], self.distance[sel] = _nearest(d)
                if keep:
                    self.lower[:, sel] = d
        return k * m

    def update(self, old, new):
        """Follow the templates from ``old`` to ``new`` (same number of rows); return the
        distances measured."""
        if self.lower is None:
            return self.search(new)
        lower, index, distance, columns = self.lower, self.index, self.distance, self.columns
        self.shift += np.abs(new - old).sum(axis=1)
        for j in np.flatnonzero(self.shift > self.headroom):
            lower[j] -= self.bound_type(self.shift[j] - self.headroom)
            np.maximum(lower[j], 0, out=lower[j])
            self.shift[j] = self.headroom
        book = new.astype(columns.dtype)
        distance[:] = _distances_to(columns, book, index)
        measured = len(distance)
        limit = np.empty_like(distance)
        for j in range(len(new)):
            # In template order, so that a tie goes to the lower index as in the hardware.
            # A vector's own template passes too (its bound is at most its distance) and is
            # measured again, which costs less than excluding it from every comparison.
            shift = self.bound_type(self.shift[j])
            np.add(distance, shift, out=limit)
            rows = np.flatnonzero(lower[j] <= limit)
            if not len(rows):
                continue
            x = np.take(columns, rows, axis=1)
            x -= book[j][:, None]
            np.abs(x, out=x)
            d = x.sum(axis=0, dtype=self.bound_type)
            lower[j, rows] = d + shift
            held = distance[rows]
            better = (d < held) | ((d == held) & (index[rows] > j))
            won = rows[better]
            index[won] = j
            distance[won] = d[better]
            measured += len(rows)
        return measured

    @property
    def mean_distance(self):
        return float(self.distance.mean(dtype=np.float64))


def _distances_to(columns, codebook, index):
    """Exact L1 distance of each vector (``columns``: N x K, transposed) to template
    ``index[k]`` of ``codebook``, one dimension at a time over all vectors."""
    total = np.zeros(columns.shape[1], columns.dtype)
    scratch = np.empty_like(total)
    for i in range(columns.shape[0]):
        np.subtract(columns[i], codebook[index, i], out=scratch)
        np.abs(scratch, out=scratch)
        total += scratch
    return total


def _medians(columns, index, templates):
    """Per template, the lower per-coordinate median of its vectors (``columns``: N x K,
    transposed), and the count of vectors of each template."""
    counts = np.bincount(index, minlength=templates)
    # One stable sort by template (a radix sort on 16-bit labels) groups each cluster's
    # vectors together; a partition per non-empty cluster, along contiguous rows of the
    # transposed vectors, then finds its medians.
    order = np.argsort(index, kind="stable")
    grouped = np.take(columns, order, axis=1)
    ends = np.cumsum(counts)
    medians = np.zeros((templates, columns.shape[0]), np.int64)
    for j in np.flatnonzero(counts):
        n = counts[j]
        k = (n - 1) // 2
        medians[j] = np.partition(grouped[:, ends[j] - n:ends[j]], k, axis=1)[:, k]
    return medians, counts


def _farthest_distinct(vectors, distance, count):
    """Up to ``count`` distinct vectors, farthest from their templates first (ties to the
    lowest row), each at a distance > 0."""
    order = np.argsort(-distance, kind="stable")
    order = order[distance[order] > 0]
    chosen, seen = [], set()
    for start in range(0, len(order), max(4 * count, 64)):
        for k in order[start:start + max(4 * count, 64)]:
            key = vectors[k].tobytes()
            if key not in seen:
                seen.add(key)
                chosen.append(k)
                if len(chosen) == count:
                    return np.array(chosen, np.int64)
    return np.array(chosen, np.int64)


def _update(assignment, codebook):
    """The next codebook: medians of each template's vectors, empty templates re-seeded;
    and the number re-seeded."""
    vectors = assignment.vectors
    new, counts = _medians(assignment.columns, assignment.index, len(codebook))
    empty = np.flatnonzero(counts == 0)
    new[empty] = codebook[empty]
    reseeded = 0
    if len(empty):
        far = _farthest_distinct(vectors, assignment.distance, len(empty))
        new[empty[:len(far)]] = vectors[far]
        reseeded = len(far)
    return new, reseeded


def _kmedians_pp(config, vectors, templates, rng):
    """k-medians++ seeds: the first a uniformly drawn vector, each next one drawn with
    probability proportional to its L1 distance from the nearest seed so far (vectors on
    a seed already are never drawn again while any other is left). Drawn from a uniform
    sample of ``SEEDING_SAMPLE`` vectors per template when there are more: seeding costs as
    much as a full assignment per template otherwise, and the iterations that follow use
    every vector."""
    k = len(vectors)
    if k > SEEDING_SAMPLE * templates:
        vectors = vectors[np.sort(rng.choice(k, SEEDING_SAMPLE * templates, replace=False))]
        k = len(vectors)
    columns = vectors.T.copy()
    seeds = np.empty((templates, vectors.shape[1]), np.int64)
    nearest = None
    scratch = np.empty(k, np.int64)
    for j in range(templates):
        if nearest is None:
            pick = int(rng.integers(k))
        else:
            # Integer draw over the cumulative distances: exact and the same on any machine.
            cumulative = np.cumsum(nearest)
            total = int(cumulative[-1])
            pick = int(rng.integers(k)) if total == 0 else \
                int(np.searchsorted(cumulative, rng.integers(total), side="right"))
        seeds[j] = vectors[pick]
        # Distance of every vector from the new seed, dimension by dimension over the
        # transposed vectors (long contiguous rows, no K x N temporary).
        d = np.zeros(k, np.int64)
        for i, value in enumerate(seeds[j]):
            np.subtract(columns[i], value, out=scratch)
            np.abs(scratch, out=scratch)
            d += scratch
        nearest = d if nearest is None else np.minimum(nearest, d)
    return seeds


def _split(assignment, codebook, count, config, rng):
    """``codebook`` with ``count`` more templates: the costliest clusters that can be split
    (their vectors not all equal) each become two templates, moved apart from the old one
    by half the cluster's mean absolute deviation along a random sign pattern, rounded and
    clipped to W bits."""
    vectors, index = assignment.vectors, assignment.index
    m, n = codebook.shape
    counts = np.bincount(index, minlength=m)
    cost = np.bincount(index, weights=assignment.distance, minlength=m)
    deviation = np.zeros((m, n))
    for i in range(n):
        deviation[:, i] = np.bincount(index, weights=np.abs(vectors[:, i] - codebook[index, i]),
                                      minlength=m)
    deviation /= np.maximum(counts, 1)[:, None]
    order = [j for j in np.argsort(-cost, kind="stable") if cost[j] > 0][:count]
    grown = [codebook]
    old = codebook.copy()
    for j in order:
        step = np.ceil(deviation[j] / 2).astype(np.int64)
        signs = rng.choice(np.array([-1, 1]), size=n)
        old[j] = np.clip(codebook[j] - signs * step, config.value_min, config.value_max)
        grown.append(np.clip(codebook[j] + signs * step, config.value_min,
                             config.value_max)[None])
    grown[0] = old
    book = np.concatenate(grown)
    # Nothing left to split (every cluster is a single repeated vector): copies keep the
    # count; they stay empty, since ties go to the lower index.
    if len(book) < m + count:
        book = np.concatenate([book, np.repeat(book[:1], m + count - len(book), axis=0)])
    return book


def train_codebook(vectors, config, *, method="kmedians", iterations=20, seed=0,
                   initial=None, chunk=None, progress=None):
    """Train a codebook for ``vectors`` (K x N integers in the core's W-bit range).

    ``config``: a :class:`CoreConfig` (its dims, templates, width and signedness are used)
    or a mapping of ``templates``, ``width`` and ``signed`` (dims from the vectors).
    ``iterations``: k-medians iterations at most (for ``lbg``, after each split); training
    stops earlier when the codebook no longer changes. ``initial``: an M x N codebook to
    start k-medians from instead of the k-medians++ seeds. ``chunk``: vectors per assignment
    chunk (default 65,536; the result does not depend on it). ``progress(entry)`` is called
    after the seed and every iteration with a dict of ``iteration``, ``templates``,
    ``distortion``, ``reseeded`` and ``measured``.

    Returns ``(codebook, record)``: an M x N int64 array and a :class:`TrainingRecord`.
    """
    started = time.perf_counter()
    config = _as_config(config, vectors)
    vectors = golden.check_vectors(config, vectors)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    iterations = _check_int("iterations", iterations, 0)
    seed = _check_int("seed", seed, 0, (1 << 63) - 1)
    chunk = DEFAULT_CHUNK if chunk is None else _check_int("chunk", chunk, 1)
    m = config.templates
    if len(vectors) < m:
        raise ValueError(f"{m} templates need at least {m} vectors to train on, not "
                         f"{len(vectors)}")
    if initial is not None:
        if method != "kmedians":
            raise ValueError(f"an initial codebook is refined by kmedians, not {method!r}")
        initial = golden.check_values("initial codebook", initial, config.dims, config)
        if len(initial) != m:
            raise ValueError(f"the initial codebook must have {m} templates (rows), not "
                             f"{len(initial)}")
    rng = np.random.default_rng(seed)
    record = TrainingRecord(method=method, seed=seed, iterations=iterations,
                            dims=config.dims, templates=m, width=config.width,
                            signed=config.signed, vectors=len(vectors))
    assignment = _Assignment(config, vectors, chunk)

    def note(reseeded, measured, templates):
        record.distortion.append(assignment.mean_distance)
        record.templates_per_iteration.append(templates)
        record.reseeded.append(reseeded)
        record.measured.append(measured)
        if progress is not None:
            progress({"iteration": len(record.distortion) - 1, "templates": templates,
                      "distortion": record.distortion[-1], "reseeded": reseeded,
                      "measured": measured})

    def iterate(codebook):
        for _ in range(iterations):
            new, reseeded = _update(assignment, codebook)
            if np.array_equal(new, codebook):
                return codebook, True
            measured = assignment.update(codebook, new)
            codebook = new
            note(reseeded, measured, len(codebook))
        return codebook, False

    if method == "kmedians":
        codebook = _kmedians_pp(config, vectors, m, rng) if initial is None \
            else initial.copy()
        note(0, assignment.search(codebook), m)
        codebook, record.converged = iterate(codebook)
    else:
        codebook, _ = _medians(vectors.T, np.zeros(len(vectors), np.int16), 1)
        note(0, assignment.search(codebook), 1)
        while True:
            codebook, record.converged = iterate(codebook)
            if len(codebook) == m:
                break
            codebook = _split(assignment, codebook, min(len(codebook), m - len(codebook)),
                              config, rng)
            note(0, assignment.search(codebook), len(codebook))
    record.seconds = time.perf_counter() - started
    return golden.check_codebook(config, codebook), record

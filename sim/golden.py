"""Bit-exact NumPy model of a madvq core.

``distances(config, codebook, vectors)`` gives ``sum_i |x[i] - t[j][i]|`` for K vectors and
all M templates at once; ``classify`` adds the winner (``argmin`` over the first m templates,
ties to the lowest index; with ``top_k`` > 1 the top_k nearest by a stable sort) exactly as
the hardware reports it. The cycle-level facts
(latency, cycles per vector) are those of the same :class:`CoreConfig`, re-exported here
so that a model user needs nothing else.

All checks of user data live here too (``check_codebook``, ``check_vectors``,
``check_active``): the simulators and the command line use them, so every layer rejects the
same inputs with the same message.
"""

from dataclasses import dataclass

import numpy as np

from madvq.hdl.config import CoreConfig


__all__ = ["Results", "check_whole_numbers", "check_values", "check_vectors", "check_codebook",
           "check_active", "distances", "distance_chunks", "classify", "latency_cycles",
           "cycles_per_vector"]


@dataclass
class Results:
    """Per-vector outputs of a core: ``index`` and ``distance`` (K,) (with ``top_k`` > 1:
    (K, top_k), nearest first), and ``distances`` (K, M) when the core reports them (else
    ``None``)."""
    index: np.ndarray
    distance: np.ndarray
    distances: np.ndarray = None

    def __len__(self):
        return len(self.index)

    def mismatches(self, other):
        """Row numbers where ``self`` and ``other`` differ (any reported field)."""
        bad = (self.index != other.index) | (self.distance != other.distance)
        if bad.ndim > 1:                  # top_k > 1: any of a vector's K slots
            bad = bad.any(axis=1)
        if self.distances is not None and other.distances is not None:
            bad |= (self.distances != other.distances).any(axis=1)
        return np.flatnonzero(bad)


def _value_text(value):
    # Exact up to 24 digits; a 300-digit number is shown by its size, which is what matters.
    value = int(value)
    if abs(value) < 10 ** 24:
        return str(value)
    return f"{'-' if value < 0 else ''}about 10^{int(abs(value).bit_length() * 0.30103)}"


def check_whole_numbers(array, name, allowed):
    """``ValueError`` unless every value of the float array ``array`` is a finite whole
    number; the message names ``name`` and what is ``allowed``."""
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values; {allowed} are allowed")
    if (array != np.round(array)).any():
        raise ValueError(f"{name} contains non-integer values; {allowed} are allowed")


def check_values(name, array, columns, config):
    """``array`` as an (rows, columns) int64 array of W-bit values; ``ValueError`` naming
    the problem (shape, NaN, non-integers, a value out of range) otherwise."""
    array = np.asarray(array)
    if array.ndim == 1 and columns == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (rows, {columns}), "
                         f"not an array of shape {array.shape}")
    if array.shape[1] != columns:
        raise ValueError(f"{name} must have {columns} columns (dims), not {array.shape[1]}")
    if array.dtype.kind == "b":
        array = array.astype(np.int64)
    if array.dtype.kind == "f":
        check_whole_numbers(array, name, f"integers in {config.value_range_text}")
        # Range first: a float beyond int64 would wrap in the conversion.
        outside = (array < config.value_min) | (array > config.value_max)
        if outside.any():
            row, col = np.argwhere(outside)[0]
            raise ValueError(f"{name} has value {_value_text(array[row, col])} at [{row}, {col}] "
                             f"outside {config.value_range_text}")
        array = array.astype(np.int64)
    elif array.dtype == object:
        # Python ints too large for int64 (read from a file) are still reported as they are.
        values = array.ravel().tolist()
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                   for v in values):
            raise ValueError(f"{name} must hold integers in {config.value_range_text}")
        for k, v in enumerate(values):
            if not config.value_min <= v <= config.value_max:
                row, col = divmod(k, array.shape[1])
                raise ValueError(f"{name} has value {_value_text(v)} at [{row}, {col}] outside "
                                 f"{config.value_range_text}")
        array = np.array(values, dtype=np.int64).reshape(array.shape)
    elif array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, not {array.dtype} values")
    if array.size and (array.min() < config.value_min or array.max() > config.value_max):
        outside = (array < config.value_min) | (array > config.value_max)
        if outside.any():
            row, col = np.argwhere(outside)[0]
            raise ValueError(f"{name} has value {_value_text(array[row, col])} at [{row}, {col}] "
                             f"outside {config.value_range_text}")
    return array.astype(np.int64, copy=False)


def check_vectors(config, vectors):
    """Vectors as a (K, N) int64 array; ``ValueError`` naming the problem otherwise."""
    return check_values("vectors", vectors, config.dims, config)


def check_codebook(config, codebook):
    """A codebook of 1..M templates as an (m, N) int64 array."""
    codebook = check_values("codebook", codebook, config.dims, config)
    if not 1 <= len(codebook) <= config.templates:
        raise ValueError(f"codebook must have 1 to {config.templates} templates (rows), "
                         f"not {len(codebook)}")
    return codebook


def check_active(config, active):
    """The active-template count m, 1..M."""
    if not isinstance(active, (int, np.integer)) or isinstance(active, bool):
        raise TypeError(f"active templates must be an integer from 1 to {config.templates}, "
                        f"not {active!r}")
    if not 1 <= active <= config.templates:
        raise ValueError(f"active templates must be an integer from 1 to "
                         f"{config.templates}, not {active}")
    return int(active)


def _work_dtype(config):
    # Differences need W + 1 bits and sums W + ceil(log2 N); pick the narrowest fast type.
    bits = max(config.width + 1, config.distance_width) + 1
    return np.int16 if bits <= 16 else np.int32 if bits <= 32 else np.int64


def _distance_chunks(config, codebook, vectors):
    """Yield ``(start, d)`` with ``d`` the (M', C) distances of vectors start..start+C-1.

    Vectors are processed dims-major (transposed) in chunks that fit the CPU cache, one
    vectorised expression per template: the Python loop runs (K / C) * M' times, never once
    per vector.
    """
    dtype = _work_dtype(config)
    book = codebook.astype(dtype)
    chunk = max(1024, (1 << 19) // (config.dims * np.dtype(dtype).itemsize))
    for start in range(0, len(vectors), chunk):
        x = np.ascontiguousarray(vectors[start:start + chunk].T, dtype=dtype)
        d = np.empty((len(book), x.shape[1]), dtype=dtype)
        diff = np.empty_like(x)
        for j, t in enumerate(book):
            np.subtract(x, t[:, None], out=diff)
            np.abs(diff, out=diff)
            diff.sum(axis=0, dtype=dtype, out=d[j])
        yield start, d


def distance_chunks(config, codebook, vectors):
    """Yield ``(start, d)``: ``d`` the (M', C) distances of vectors ``start`` ..
    ``start + C - 1`` from the M' rows of ``codebook``, in the narrowest integer type that
    holds them. Memory stays bounded whatever the number of vectors K, for callers (such as
    codebook training) that reduce each chunk at once instead of keeping a K x M' array."""
    codebook = check_values("codebook", codebook, config.dims, config)
    vectors = check_vectors(config, vectors)
    yield from _distance_chunks(config, codebook, vectors)


def distances(config, codebook, vectors):
    """(K, M') distances of K vectors from the M' rows of ``codebook`` (M' <= M)."""
    codebook = check_values("codebook", codebook, config.dims, config)
    vectors = check_vectors(config, vectors)
    out = np.empty((len(vectors), len(codebook)), dtype=np.int64)
    for start, d in _distance_chunks(config, codebook, vectors):
        out[start:start + d.shape[1]] = d.T
    return out


def full_codebook(config, codebook):
    """The M x N codebook the hardware holds after ``codebook`` was written to templates
    0..m-1 of a freshly configured core (the others read as zero)."""
    codebook = check_codebook(config, codebook)
    full = np.zeros((config.templates, config.dims), dtype=np.int64)
    full[:len(codebook)] = codebook
    return full


def classify(config, codebook, vectors, active=None):
    """What the core reports for ``vectors`` with ``codebook`` (M x N, the whole stored
    codebook) and ``active`` templates competing (default M)."""
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {config!r}")
    codebook = check_values("codebook", codebook, config.dims, config)
    if len(codebook) != config.templates:
        raise ValueError(f"the stored codebook must have {config.templates} rows, "
                         f"not {len(codebook)}")
    active = config.templates if active is None else check_active(config, active)
    vectors = check_vectors(config, vectors)
    k = len(vectors)
    if config.top_k > 1:
        return _nearest(config, codebook, vectors, active)
    index = np.empty(k, dtype=np.int64)
    distance = np.empty(k, dtype=np.int64)
    everything = np.empty((k, config.templates), dtype=np.int64) if config.distances else None
    for start, d in _distance_chunks(config, codebook, vectors):
        stop = start + d.shape[1]
        best = np.argmin(d[:active], axis=0)      # ties: the first, i.e. the lowest index
        index[start:stop] = best
        distance[start:stop] = d[best, np.arange(d.shape[1])]
        if everything is not None:
            everything[start:stop] = d.T
    return Results(index=index, distance=distance, distances=everything)


def _nearest(config, codebook, vectors, active):
    """:func:`classify` for ``top_k`` K > 1: the K nearest of the active templates, in
    ascending distance, ties to the lower index (a stable sort); slots past ``active``
    hold ``config.none_index`` and ``config.none_distance``."""
    K, k = config.top_k, len(vectors)
    index = np.full((k, K), config.none_index, dtype=np.int64)
    distance = np.full((k, K), config.none_distance, dtype=np.int64)
    everything = np.empty((k, config.templates), dtype=np.int64) if config.distances else None
    found = min(K, active)
    for start, d in _distance_chunks(config, codebook, vectors):
        stop = start + d.shape[1]
        order = np.argsort(d[:active], axis=0, kind="stable")[:found]     # (found, C)
        index[start:stop, :found] = order.T
        distance[start:stop, :found] = np.take_along_axis(d[:active], order, axis=0).T
        if everything is not None:
            everything[start:stop] = d.T
    return Results(index=index, distance=distance, distances=everything)


def latency_cycles(config):
    return config.latency_cycles


def cycles_per_vector(config):
    return config.cycles_per_vector

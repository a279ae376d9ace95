"""One long simulation as independent segments, run side by side on several workers.

A core's results depend only on its codebook and active count, never on the vectors before,
so a long :class:`~madvq.sim.stimulus.Batch` can be cut into parts that run on separate
simulators at once: :func:`split` gives each part the codebook writes and active count that
bring a fresh core to the state the batch had reached where the part starts, then the
part's own vectors (and any later writes inside it). :func:`simulate_parts` runs the parts
through any ``concurrent.futures.Executor`` (local processes by default; a
``dask.distributed`` client's executor works the same) and joins their results in order.

The results are those of one long run (the tests check it); the cycle counts are per part
(each part starts on a freshly reset core and loads its codebook), and their sum is what
the parts cost, not what one long run would take.
"""

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
import multiprocessing

import numpy as np

from .golden import Results
from .run import RunResult, get_backend, resolve_backend, simulate
from .stimulus import Batch, Segment


__all__ = ["split", "simulate_parts", "PartsResult"]


@dataclass
class PartsResult(RunResult):
    """The joined results; ``cycles`` is the sum of ``part_cycles``, the cycles each part
    took on its own core; ``part_vectors`` the vectors each part classified."""
    part_cycles: tuple = ()
    part_vectors: tuple = ()


def split(batch, parts):
    """``batch`` cut into at most ``parts`` batches of about equal numbers of vectors, each
    runnable on a fresh core and together giving the results of ``batch`` in order."""
    if not isinstance(batch, Batch):
        raise TypeError(f"batch must be a Batch, not {batch!r}")
    if not isinstance(parts, int) or isinstance(parts, bool) or parts < 1:
        raise ValueError(f"parts must be a positive integer, not {parts!r}")
    cfg = batch.config
    total = batch.vector_count
    if parts == 1 or total < 2:
        return [batch]
    bounds = np.linspace(0, total, min(parts, total) + 1).round().astype(int)
    # The state of the core as the batch goes: the codebook and m where each part starts.
    book = np.zeros((cfg.templates, cfg.dims), dtype=np.int64)
    written = np.zeros(cfg.templates, dtype=bool)
    active = cfg.templates
    out = []
    current = []                # segments of the part being built
    start = 0                   # vector number where the part being built starts
    done = 0                    # vectors of the batch placed so far
    part = 0

    def opening():
        # Templates never written hold zeros on a fresh core too: only the written ones
        # (and m, when it differs from a fresh core's M) need loading.
        index = np.flatnonzero(written)
        return Segment(vectors=np.zeros((0, cfg.dims), np.int64), write_index=index,
                       write_data=book[index].copy(),
                       active=None if active == cfg.templates else active)

    def close():
        out.append(Batch(cfg, current, valid_pattern=batch.valid_pattern,
                         ready_pattern=batch.ready_pattern, reset_cycles=batch.reset_cycles))

    for seg in batch.segments:
        seg_writes = Segment(np.zeros((0, cfg.dims), np.int64), seg.write_index,
                             seg.write_data, seg.active)
        current.append(seg_writes)
        for j, row in zip(seg.write_index, seg.write_data):
            book[j] = row
            written[j] = True
        if seg.active is not None:
            active = seg.active
        vectors = seg.vectors
        while len(vectors):
            take = min(len(vectors), bounds[part + 1] - done)
            current.append(Segment(vectors=vectors[:take]))
            vectors = vectors[take:]
            done += take
            if done == bounds[part + 1] and part + 1 < len(bounds) - 1:
                close()
                part += 1
                start = done
                current = [opening()]
    close()
    assert start <= done == total
    return out


def _run_part(batch, backend, options):
    run = simulate(batch, backend=backend, **options)
    return run.results, run.cycles


# The parts of the run in progress, for workers forked from this process: they inherit them
# instead of receiving a pickled copy (128 MB for a million 16-value vectors).
_INHERITED = None


def _run_inherited_part(k, backend, options):
    return _run_part(_INHERITED[k], backend, options)


def _local_processes(jobs):
    """Local worker processes; forked where the platform can (they start at once and
    inherit the parts), spawned elsewhere. Returns the executor and whether it forks."""
    forks = "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if forks else "spawn")
    return ProcessPoolExecutor(max_workers=jobs, mp_context=context), forks


def simulate_parts(batch, *, parts, backend="auto", executor=None, jobs=None, **options):
    """Simulate ``split(batch, parts)`` on ``executor`` (default: ``jobs`` local processes,
    one per CPU) and join the results; return a :class:`PartsResult`. ``options`` go to the
    backend (``cache_dir``, and ``log``, which only this process uses: a Verilator model is
    compiled here, once, before the parts start)."""
    pieces = split(batch, parts)
    backend = resolve_backend(backend)
    log = options.pop("log", None)
    if backend == "verilator":
        get_backend(backend, batch.config, log=log, **options).build()
    global _INHERITED
    own = executor is None
    inherit = False
    if own:
        executor, inherit = _local_processes(jobs or min(len(pieces), os.cpu_count() or 1))
    try:
        if inherit:
            # Set before the first submit: the pool forks its workers then.
            _INHERITED = pieces
            futures = [executor.submit(_run_inherited_part, k, backend, options)
                       for k in range(len(pieces))]
        else:
            futures = [executor.submit(_run_part, piece, backend, options)
                       for piece in pieces]
        runs = [f.result() for f in futures]
    finally:
        _INHERITED = None
        if own:
            executor.shutdown()
    cfg = batch.config
    results = Results(
        index=np.concatenate([r.index for r, _ in runs]),
        distance=np.concatenate([r.distance for r, _ in runs]),
        distances=np.concatenate([r.distances for r, _ in runs]) if cfg.distances else None)
    cycles = tuple(c for _, c in runs)
    return PartsResult(results=results, cycles=sum(cycles), part_cycles=cycles,
                       part_vectors=tuple(p.vector_count for p in pieces))

"""What a simulation run feeds a core, and what the golden model says must come out.

A :class:`Batch` is a list of :class:`Segment` s run back to back on a freshly reset core.
A segment first writes its templates (in order), then sets the active-template count (if
given), then streams its vectors. The next segment's writes start as soon as the last vector
of this one has transferred, so they overtake results still in flight: exactly the case where
a result must still use the codebook its vector saw.

Optional stall patterns, cyclic boolean arrays indexed by the clock cycle, make runs
reproducible across simulators: a producer may raise ``valid`` (vector, codebook and
active-count streams) only in a cycle whose ``valid_pattern`` entry is true (once raised,
valid holds until the transfer, as the stream rules demand); the consumer drives
``result_ready`` from ``ready_pattern``.

``reset_cycles`` R > 0 holds ``rst`` high in cycles 0..R-1 (from time zero) before anything
is offered; the producer and the consumer start in cycle R (``result_ready`` is low before),
and the patterns stay indexed by the absolute cycle. With R = 0 the core runs from its
initial values, without a reset.
"""

from dataclasses import dataclass, field

import numpy as np

from madvq.hdl.config import CoreConfig
from . import golden
from .packing import pack_words


__all__ = ["Segment", "Batch", "random_pattern",
           "TEMPLATE_WRITE", "ACTIVE_COUNT", "VECTOR"]


# The kinds of item a producer sends (:meth:`Batch.items`).
TEMPLATE_WRITE, ACTIVE_COUNT, VECTOR = 0, 1, 2


@dataclass
class Segment:
    vectors: np.ndarray
    write_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    write_data: np.ndarray = None
    active: int = None


class Batch:
    """Segments of codebook writes, an active count and vectors, plus stall patterns.

    Everything is checked here, against ``config``, with the golden model's messages.
    """

    def __init__(self, config, segments, *, valid_pattern=None, ready_pattern=None,
                 reset_cycles=0):
        if not isinstance(config, CoreConfig):
            raise TypeError(f"config must be a CoreConfig, not {config!r}")
        self.config = config
        self.segments = []
        for seg in segments:
            vectors = golden.check_vectors(config, seg.vectors)
            write_index = np.asarray(seg.write_index, dtype=np.int64).reshape(-1)
            if seg.write_data is None:
                write_data = np.zeros((0, config.dims), np.int64)
            else:
                write_data = golden.check_values("codebook", seg.write_data, config.dims,
                                                   config)
            if len(write_index) != len(write_data):
                raise ValueError(f"{len(write_index)} template indices given for "
                                 f"{len(write_data)} templates")
            if len(write_index) and (write_index.min() < 0
                                     or write_index.max() >= config.templates):
                raise ValueError(f"template indices must be from 0 to "
                                 f"{config.templates - 1}")
            active = None if seg.active is None else golden.check_active(config, seg.active)
            self.segments.append(Segment(vectors, write_index, write_data, active))
        self.valid_pattern = self._pattern("valid_pattern", valid_pattern)
        self.ready_pattern = self._pattern("ready_pattern", ready_pattern)
        if (not isinstance(reset_cycles, int) or isinstance(reset_cycles, bool)
                or reset_cycles < 0):
            raise ValueError(f"reset_cycles must be an integer >= 0, not {reset_cycles!r}")
        self.reset_cycles = reset_cycles

    @staticmethod
    def _pattern(name, pattern):
        if pattern is None:
            return None
        pattern = np.asarray(pattern, dtype=bool).reshape(-1)
        if not pattern.any():
            raise ValueError(f"{name} must allow at least one cycle in its period")
        return pattern

    @classmethod
    def single(cls, config, codebook, vectors, active=None, **patterns):
        """Load ``codebook`` into templates 0..len-1, set ``active`` (default: the number
        of rows loaded), classify ``vectors``."""
        codebook = golden.check_codebook(config, codebook)
        if active is None:
            active = len(codebook)
        seg = Segment(vectors=vectors, write_index=np.arange(len(codebook)),
                      write_data=codebook, active=active)
        return cls(config, [seg], **patterns)

    @property
    def vector_count(self):
        return sum(len(seg.vectors) for seg in self.segments)

    def items(self):
        """What the producer sends, in order, as three arrays: the kind of each item
        (``TEMPLATE_WRITE``, ``ACTIVE_COUNT``, ``VECTOR``), its scalar (template index or
        active count; 0 for a vector) and its N values packed into 32-bit words
        (:func:`~madvq.sim.packing.pack_words`; zeros for an active count)."""
        cfg = self.config
        words = max(1, -(-cfg.dims * cfg.width // 32))
        kinds, scalars, data = [], [], []
        for seg in self.segments:
            n = len(seg.write_index)
            if n:
                kinds.append(np.full(n, TEMPLATE_WRITE, np.uint8))
                scalars.append(seg.write_index.astype(np.int64))
                data.append(pack_words(seg.write_data, cfg.width))
            if seg.active is not None:
                kinds.append(np.full(1, ACTIVE_COUNT, np.uint8))
                scalars.append(np.array([seg.active], np.int64))
                data.append(np.zeros((1, words), np.uint32))
            if len(seg.vectors):
                kinds.append(np.full(len(seg.vectors), VECTOR, np.uint8))
                scalars.append(np.zeros(len(seg.vectors), np.int64))
                data.append(pack_words(seg.vectors, cfg.width))
        if not kinds:
            return (np.zeros(0, np.uint8), np.zeros(0, np.int64),
                    np.zeros((0, words), np.uint32))
        return (np.concatenate(kinds), np.concatenate(scalars),
                np.ascontiguousarray(np.concatenate(data), dtype=np.uint32))

    def expected(self):
        """The golden model's results for the whole batch, in vector order."""
        cfg = self.config
        book = np.zeros((cfg.templates, cfg.dims), dtype=np.int64)
        active = cfg.templates
        parts = []
        for seg in self.segments:
            for j, row in zip(seg.write_index, seg.write_data):
                book[j] = row
            if seg.active is not None:
                active = seg.active
            if len(seg.vectors):
                parts.append(golden.classify(cfg, book, seg.vectors, active))
        if not parts:
            return golden.Results(np.zeros(0, np.int64), np.zeros(0, np.int64),
                                  np.zeros((0, cfg.templates), np.int64)
                                  if cfg.distances else None)
        return golden.Results(
            index=np.concatenate([p.index for p in parts]),
            distance=np.concatenate([p.distance for p in parts]),
            distances=np.concatenate([p.distances for p in parts]) if cfg.distances else None)


def random_pattern(rng, length, probability):
    """A cyclic stall pattern of ``length`` cycles, each true with ``probability``."""
    pattern = rng.random(length) < probability
    pattern[rng.integers(length)] = True
    return pattern

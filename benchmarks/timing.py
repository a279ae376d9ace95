"""What the benchmark scripts share: the best of several timed runs, and the machine's load
(printed beside every figure, since a loaded 2-core machine gives slower ones)."""

import os
import time


def best_of(repeats, fn):
    """``(shortest seconds, the last result)`` of ``repeats`` calls of ``fn``."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def load_average():
    """The 1, 5 and 15-minute load averages, as text."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())

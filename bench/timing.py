"""Wall-clock timing shared by the benchmarks: several runs timed in turns, best of N."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_times(runs: dict[str, Callable[[], object]], repeats: int) -> tuple[dict[str, float], dict[str, object]]:
    """Fastest wall time of each run over ``repeats`` rounds, and its last result.

    The runs take turns within each round, so they see the same background load.
    """
    best = dict.fromkeys(runs, float("inf"))
    results = {}
    for _ in range(repeats):
        for label, run in runs.items():
            start = time.perf_counter()
            results[label] = run()
            best[label] = min(best[label], time.perf_counter() - start)
    return best, results

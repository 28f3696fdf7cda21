"""Best-of-N timing shared by the benchmark scripts (no flags, so any script can import it)."""

import time


def best_of(fit, repeats: int):
    """(the fastest of repeats calls' seconds, the last call's result)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - started)
    return min(times), result

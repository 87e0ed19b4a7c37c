"""Print timings of the pure balance computation (no database, no web).

Run: .venv/bin/python bench/balance_pure.py

Each case runs many times on the same random account history; p50/p95 are per call.
The overweight thresholds are cached, so after the first call a report is arithmetic only.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compass import (  # noqa: E402
    QUADRANTS_ORDER,
    BalanceConfig,
    TaggedItem,
    approval_warning,
    check_balance,
    render_compass_svg,
    what_if,
    what_next,
)


def history(n: int, seed: int = 7) -> list[TaggedItem]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    items = []
    for i in range(n):
        tags = tuple(rng.sample(QUADRANTS_ORDER, 2 if rng.random() < 0.15 else 1))
        items.append(TaggedItem(f"post-{i}", tags, start + timedelta(hours=9 * i), i > n - 5))
    rng.shuffle(items)  # the checker sorts; callers need not
    return items


def measure(name: str, runs: int, call: Callable[[], object]) -> None:
    call()  # warm the threshold cache, as a running server would be
    timings = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        call()
        timings.append((time.perf_counter_ns() - started) / 1000)
    timings.sort()
    p50 = statistics.median(timings)
    p95 = timings[int(0.95 * (len(timings) - 1))]
    print(f"{name:<52} {runs:>6} {p50:>10.0f} {p95:>10.0f}")


def bench_window(window: int, account_size: int, runs: int) -> None:
    items = history(account_size)
    plain = BalanceConfig(window=window)
    weighted = BalanceConfig(window=window, half_life_posts=window / 4, half_life_days=14)
    new = TaggedItem("new", (QUADRANTS_ORDER[0],), datetime(2027, 1, 1, tzinfo=UTC), True)
    report = check_balance(items, plain)
    label = f"window {window}, account of {account_size} posts"
    measure(f"check_balance ({label})", runs, lambda: check_balance(items, plain))
    measure("  + recency weighting", runs, lambda: check_balance(items, weighted))
    measure("  what_if", runs, lambda: what_if(items, new, plain))
    measure("  approval_warning (2 reports)", runs, lambda: approval_warning(items, new, plain))
    measure("  what_next", runs, lambda: what_next(report))
    measure("  render_compass_svg", runs, lambda: render_compass_svg(report))


def main() -> None:
    print(f"python {sys.version.split()[0]}; times in microseconds per call")
    print(f"{'case':<52} {'runs':>6} {'p50 us':>10} {'p95 us':>10}")
    for window, account_size, runs in ((20, 20, 3000), (20, 500, 1000), (200, 200, 1000)):
        bench_window(window, account_size, runs)
    from compass.stats import _threshold

    _threshold.cache_clear()
    started = time.perf_counter()
    from compass import overweight_threshold

    for n in range(201):
        overweight_threshold(n, 0.25)
    print(f"cold exact thresholds for n = 0..200 (p = 0.25): {time.perf_counter() - started:.3f} s")


if __name__ == "__main__":
    main()

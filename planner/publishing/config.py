"""The publishing worker's configuration and backoff policy.

Every module of the engine (claiming, recording, reaper, reconcile, dispatch) reads these; this
module imports none of them, so the engine has no import circle.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from planner.settings import Settings, get_settings

FAULT_PHASES = ("after_claim", "after_send", "before_record")


@dataclass(frozen=True)
class DispatchConfig:
    threads: int = 32
    lease_seconds: float = 120.0
    lateness_window_minutes: float = 60.0
    # A publication already tried and waiting to be tried again (retry_wait) this long after
    # its scheduled time is given up as missed: it never goes out days late.
    give_up_hours: float = 24.0
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 1800.0
    max_attempts: int = 8
    send_timeout_seconds: float = 30.0
    reconcile_max_tries: int = 5  # lookups that failed (errors) before needs_review
    # Every lookup of one publication (found, not found, rate limited, failed): the budget
    # that bounds reconciliation as a whole. ``max_attempts`` bounds the sends.
    max_lookups: int = 12
    # Time one publication may spend waiting on rate limits (sends and lookups), from its
    # first 429: a reset inside it is waited for, one past it ends in needs_review.
    rate_limit_max_wait_seconds: float = 3600.0
    # Sends (and reconciliations) in flight per account in one worker; 0 = a quarter of the
    # threads, at least 1. A backlog on a slow account or platform then holds only its share
    # of the threads.
    max_inflight_per_account: int = 0
    # Test-only: shifts the database clock as the dispatcher reads it (DST and downtime tests).
    clock_skew_seconds: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> DispatchConfig:
        settings = settings or get_settings()
        values: dict[str, Any] = {
            "threads": settings.worker_threads,
            "lease_seconds": float(settings.lease_seconds),
            "lateness_window_minutes": float(settings.lateness_window_minutes),
            "give_up_hours": float(settings.publish_give_up_hours),
            "max_attempts": settings.publish_max_sends,
            "max_lookups": settings.publish_max_lookups,
            "rate_limit_max_wait_seconds": settings.publish_rate_limit_max_wait_minutes * 60,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def claim_ahead(self) -> int:
        """Publications claimed beyond the free threads: queued, so a thread that finishes
        a send starts the next one at once instead of idling until the next claim. Twice
        the claim batch (a quarter of the threads), so one batch still waits while the next
        is being claimed."""
        return max(1, self.threads // 2)

    @property
    def account_cap(self) -> int:
        return self.max_inflight_per_account or max(1, self.threads // 4)

    @property
    def effective_timeout(self) -> float:
        # A send must end well inside its lease, or the reaper would call it unknown mid-call.
        return max(0.5, min(self.send_timeout_seconds, self.lease_seconds / 2))


def backoff_seconds(attempts: int, config: DispatchConfig) -> float:
    """Exponential backoff with full jitter: uniform(0, min(cap, base * 2^(attempts-1)))."""
    ceiling = min(config.backoff_cap_seconds,
                  config.backoff_base_seconds * 2 ** max(0, attempts - 1))
    return random.uniform(0, ceiling)


# --- the dispatcher ----------------------------------------------------------------------------

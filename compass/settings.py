"""Balance settings as people type them: checked, with every problem named at its field.

Forms and the API give the settings of :data:`SETTING_LIMITS` plus the target mix in percent
(``target_try``, ``target_share``, ``target_care``, ``target_learn``). :func:`parse_settings`
turns them into :class:`~compass.balance.BalanceConfig` keyword arguments (the target mix in
fractions) or raises :class:`SettingsError` listing every problem.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from compass.balance import BalanceConfig
from compass.model import QUADRANTS_ORDER

__all__ = [
    "SETTING_LIMITS",
    "TARGET_FIELDS",
    "SettingsError",
    "check_together",
    "parse_settings",
    "setting_values",
]

#: Setting -> (lowest, highest, whole number?).
SETTING_LIMITS: dict[str, tuple[float, float, bool]] = {
    "window": (4, 500, True),
    "min_sample": (1, 500, True),
    "alpha": (0.001, 0.5, False),
    "missing_after": (4, 500, True),
    "half_life_posts": (1, 500, False),
    "half_life_days": (0.5, 3650, False),
}
TARGET_FIELDS = tuple(f"target_{q.value}" for q in QUADRANTS_ORDER)


class SettingsError(ValueError):
    """Settings that cannot be used; ``problems`` maps each field to a plain-words message."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


def _blank(raw: Any) -> bool:
    return raw is None or str(raw).strip() == ""


def _number(name: str, raw: Any) -> tuple[float | int | None, str | None]:
    if name in TARGET_FIELDS:
        low, high, whole = 1.0, 97.0, False
        wanted = "Enter a share between 1 and 97 percent (every value needs some room)."
    else:
        low, high, whole = SETTING_LIMITS[name]
        wanted = f"Enter a {'whole ' if whole else ''}number between {low:g} and {high:g}."
    try:
        value = float(str(raw).strip())
    except ValueError:
        return None, wanted
    if not math.isfinite(value) or not low <= value <= high or (whole and not value.is_integer()):
        return None, wanted
    return (int(value) if whole else value), None


def parse_settings(values: Mapping[str, Any], *, required: Sequence[str] = ()) -> dict[str, Any]:
    """Checked settings from ``values``; blank or missing means "not set" unless ``required``.

    The four target shares come together (all or none) and add up to 100; the minimum sample
    may not exceed the window. Returns only the settings given, ready for ``BalanceConfig``
    (``target`` as fractions keyed by quadrant name).
    """
    problems: dict[str, str] = {}
    result: dict[str, Any] = {}
    for name in (*SETTING_LIMITS, *TARGET_FIELDS):
        raw = values.get(name)
        if _blank(raw):
            if name in required:
                problems[name] = "Enter a value."
            continue
        value, problem = _number(name, raw)
        if problem:
            problems[name] = problem
        else:
            result[name] = value
    present = [f for f in TARGET_FIELDS if not _blank(values.get(f))]
    if present and len(present) < len(TARGET_FIELDS):
        missing = next(f for f in TARGET_FIELDS if f not in present)
        problems.setdefault(
            missing, "Give all four target shares, or none to keep the workspace's mix."
        )
    elif all(f in result for f in TARGET_FIELDS):
        total = math.fsum(result[f] for f in TARGET_FIELDS)
        if abs(total - 100) > 0.01:
            problems.setdefault(
                "target_try", f"The target mix must add up to 100% (now {total:g}%)."
            )
    if result.get("min_sample", 0) > result.get("window", math.inf):
        problems.setdefault("min_sample", "The minimum sample cannot be larger than the window.")
    if problems:
        raise SettingsError(problems)
    settings = {k: v for k, v in result.items() if k not in TARGET_FIELDS}
    if all(f in result for f in TARGET_FIELDS):
        settings["target"] = {f.removeprefix("target_"): result[f] / 100 for f in TARGET_FIELDS}
    return settings


def setting_values(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`parse_settings`: fields as forms show them (target in percent)."""
    values = {k: v for k, v in settings.items() if k in SETTING_LIMITS}
    target = settings.get("target")
    if isinstance(target, Mapping):
        values.update(
            {f"target_{q.value}": round(float(target.get(q.value, 0)) * 100, 4)
             for q in QUADRANTS_ORDER}
        )
    return values


def check_together(settings: Mapping[str, Any]) -> None:
    """Raise :class:`SettingsError` when complete settings do not work together."""
    window, min_sample = settings.get("window"), settings.get("min_sample", 8)
    if window is not None and min_sample > window:
        raise SettingsError(
            {"min_sample": f"The minimum sample ({min_sample}) cannot be larger than the "
                           f"window ({window})."}
        )
    try:
        BalanceConfig(**settings)
    except (TypeError, ValueError) as exc:
        raise SettingsError({"balance": f"Balance settings are not valid: {exc}"}) from None

"""Balance settings as typed into forms and the API: checked, every problem at its field."""

from __future__ import annotations

import pytest

from compass import BalanceConfig
from compass.settings import SettingsError, check_together, parse_settings, setting_values

FULL = {"window": "20", "min_sample": "8", "alpha": "0.05", "missing_after": "12",
        "target_try": "40", "target_share": "20", "target_care": "20", "target_learn": "20"}


def test_full_settings_become_config_arguments() -> None:
    settings = parse_settings({**FULL, "half_life_posts": "6", "half_life_days": "3.5"})
    assert settings == {"window": 20, "min_sample": 8, "alpha": 0.05, "missing_after": 12,
                        "half_life_posts": 6.0, "half_life_days": 3.5,
                        "target": {"try": 0.4, "share": 0.2, "care": 0.2, "learn": 0.2}}
    config = BalanceConfig(**settings)
    assert config.half_life_days == 3.5 and config.weighted


def test_blank_means_not_set_unless_required() -> None:
    assert parse_settings({"window": "", "alpha": None, "half_life_days": " "}) == {}
    with pytest.raises(SettingsError) as caught:
        parse_settings({"window": ""}, required=["window"])
    assert caught.value.problems == {"window": "Enter a value."}


def test_every_problem_is_named_at_its_field() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({"window": "2", "min_sample": "7.5", "alpha": "lots",
                        "half_life_days": "0", "target_try": "50"})
    problems = caught.value.problems
    assert problems["window"] == "Enter a whole number between 4 and 500."
    assert problems["min_sample"] == "Enter a whole number between 1 and 500."
    assert "between 0.001 and 0.5" in problems["alpha"]
    assert "between 0.5 and 3650" in problems["half_life_days"]
    assert "all four target shares" in problems["target_share"]


def test_target_mix_adds_up_and_leaves_room() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({**FULL, "target_learn": "30"})
    assert caught.value.problems == {"target_try": "The target mix must add up to 100% (now "
                                                   "110%)."}
    with pytest.raises(SettingsError) as caught:
        parse_settings({**FULL, "target_try": "0", "target_learn": "60"})
    assert "between 1 and 97" in caught.value.problems["target_try"]


def test_min_sample_cannot_exceed_window() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings({"window": "10", "min_sample": "12"})
    assert "cannot be larger than the window" in caught.value.problems["min_sample"]
    with pytest.raises(SettingsError):
        check_together({"window": 10, "min_sample": 12})
    check_together({"window": None, "min_sample": 12})  # a date range has no window


def test_setting_values_is_the_inverse() -> None:
    settings = parse_settings(FULL)
    values = setting_values(settings)
    assert parse_settings(values) == settings
    assert values["target_try"] == 40

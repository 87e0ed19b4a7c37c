"""The README stays honest: its first lines, every setting, every CLI command."""

from pathlib import Path

from typer.main import get_command

from planner.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    first = [line.strip() for line in README.splitlines()[:2]]
    assert first[0].startswith("make run") and first[1].startswith("make test")


def test_every_setting_is_documented():
    for name in Settings.model_fields:
        assert f"`POISE_{name.upper()}`" in README, f"POISE_{name.upper()} missing from README"


def test_every_cli_command_is_documented():
    import main

    for name in get_command(main.app).commands:  # type: ignore[attr-defined]
        assert f"python main.py {name}" in README, f"command {name!r} missing from README"

"""The README tells the truth about how to install and test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```bash\n(.*?)\n```", text, flags=re.S)


def test_ci_runs_the_readme_test_command():
    test_command = readme_commands()[1]
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_the_first_command_runs_the_examples_against_the_sandbox():
    first = readme_commands()[0]
    assert "--hawzu-sandbox" in first
    assert "examples" in first


def test_every_option_is_documented(pytestconfig: pytest.Config):
    from pytest_hawzu.settings import FLAGS, SETTINGS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for setting in (*SETTINGS, *FLAGS):
        for name in (setting.option, setting.env, setting.ini):
            if name:
                assert f"`{name}" in readme, name


def test_the_warnings_the_readme_names_can_be_imported_for_filterwarnings():
    import pytest_hawzu

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(Hawzu\w+Warning)`", readme))
    assert named == {"HawzuMarkerWarning", "HawzuStepWarning", "HawzuAttachWarning"}
    for name in named:
        assert issubclass(getattr(pytest_hawzu, name), UserWarning)
    assert "filterwarnings = ignore::pytest_hawzu.HawzuStepWarning" in readme

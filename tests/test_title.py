from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pytest_hawzu.ci import CiInfo
from pytest_hawzu.client import MAX_DESCRIPTION, MAX_TITLE
from pytest_hawzu.title import (
    DEFAULT_TITLE,
    FIELDS,
    TemplateError,
    fields,
    render_description,
    render_title,
    validate,
)

SHA = "0123456789abcdef0123456789abcdef01234567"
NOW = datetime(2024, 5, 1, 13, 4, 5, tzinfo=timezone(timedelta(hours=2)))
CI = CiInfo(
    provider="github",
    commit=SHA,
    branch="main",
    build="42",
    build_url="https://github.com/acme/shop/actions/runs/9001",
)


def make(ci: CiInfo = CI, release: str = "R-7") -> dict[str, str]:
    return fields(
        ci, release=release, now=NOW, host="runner-1", python="3.12.3", pytest_version="8.2.0"
    )


def test_fields_in_ci() -> None:
    assert make() == {
        "date": "2024-05-01",
        "time": "13:04:05",
        "datetime": "2024-05-01T13:04:05+02:00",
        "release": "R-7",
        "provider": "github",
        "provider_name": "GitHub Actions",
        "branch": "main",
        "commit": SHA,
        "commit_short": "0123456",
        "ref": "main@0123456",
        "build": "42",
        "build_url": "https://github.com/acme/shop/actions/runs/9001",
        "run": "github #42",
        "host": "runner-1",
        "python": "3.12.3",
        "pytest": "8.2.0",
    }


def test_fields_outside_ci() -> None:
    values = make(CiInfo(), release="")
    assert values["provider"] == values["provider_name"] == "local"
    empty = ("release", "branch", "commit", "commit_short", "ref", "build", "build_url", "run")
    assert {name: values[name] for name in empty} == dict.fromkeys(empty, "")


def test_every_field_is_documented_and_produced() -> None:
    assert set(make()) == set(FIELDS)


@pytest.mark.parametrize(
    ("ci", "ref", "run"),
    [
        (CiInfo("gitlab", SHA, "dev", "3", ""), "dev@0123456", "gitlab #3"),
        (CiInfo("gitlab", "", "dev", "", ""), "dev", "gitlab"),
        (CiInfo("gitlab", SHA, "", "3", ""), "0123456", "gitlab #3"),
        (CiInfo(), "", ""),
    ],
)
def test_ref_and_run_are_never_half_empty(ci: CiInfo, ref: str, run: str) -> None:
    values = make(ci)
    assert (values["ref"], values["run"]) == (ref, run)


@pytest.mark.parametrize("name", FIELDS)
def test_each_field_renders(name: str) -> None:
    values = make()
    assert render_title(f"[{{{name}}}]", values) == f"[{values[name]}]"


def test_default_title_in_ci() -> None:
    assert (
        render_title(DEFAULT_TITLE, make())
        == "pytest 2024-05-01 13:04:05 · main@0123456 · github #42"
    )


def test_default_title_outside_ci_has_no_dangling_separators() -> None:
    assert render_title(DEFAULT_TITLE, make(CiInfo())) == "pytest 2024-05-01 13:04:05"


def test_default_title_with_a_bare_provider() -> None:
    title = render_title(DEFAULT_TITLE, make(CiInfo(provider="jenkins")))
    assert title == "pytest 2024-05-01 13:04:05 · jenkins"


def test_default_title_is_valid() -> None:
    validate(DEFAULT_TITLE)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{branch} · pytest", "pytest"),
        ("pytest | build #{build} | {host}", "pytest | runner-1"),
        ("pytest - {branch} - {commit} - {host}", "pytest - runner-1"),
        ("{release} / {branch} / {host}", "runner-1"),
        ("pytest — {branch}{build}", "pytest"),
        ("pytest · {branch} on {host}", "pytest · on runner-1"),
        ("pytest · nightly-{branch} · {host}", "pytest · runner-1"),  # a hyphen in a word
    ],
)
def test_segments_with_only_empty_fields_are_dropped(template: str, expected: str) -> None:
    assert render_title(template, make(CiInfo(), release="")) == expected


def test_separators_need_surrounding_spaces() -> None:
    # Hyphens and slashes inside words are not separators.
    values = make(CiInfo(branch="feature/x-y"))
    assert render_title("smoke-tests {branch}", values) == "smoke-tests feature/x-y"


def test_literal_only_segments_are_kept() -> None:
    assert render_title("nightly · full suite", make(CiInfo())) == "nightly · full suite"


def test_escaped_braces_are_literal() -> None:
    assert render_title("{{branch}} {branch}", make()) == "{branch} main"


def test_whitespace_is_collapsed() -> None:
    values = make(release="  R\n7\t")
    assert render_title("  pytest   {release}\n\n{host}  ", values) == "pytest R 7 runner-1"


def test_long_titles_are_trimmed() -> None:
    title = render_title("{release}", make(release="x" * 1000))
    assert len(title) == MAX_TITLE
    assert title.endswith("…")


def test_a_title_of_exactly_the_limit_is_kept() -> None:
    assert render_title("{release}", make(release="x" * MAX_TITLE)) == "x" * MAX_TITLE


@pytest.mark.parametrize("template", ["", "   ", "{branch}", "{branch} · {build}"])
def test_title_is_never_empty(template: str) -> None:
    assert render_title(template, make(CiInfo())) == "pytest"


def test_missing_values_render_empty() -> None:
    assert render_title("pytest · {branch}", {}) == "pytest"


def test_values_are_not_reinterpreted_as_templates() -> None:
    assert render_title("{branch}", {"branch": "{host.__class__}"}) == "{host.__class__}"


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("{nope}", "unknown field '{nope}'"),
        ("pytest {Date}", "unknown field '{Date}'"),
        ("{ date }", "unknown field '{ date }'"),
        ("{0}", "positional field '{0}'"),
        ("{}", "positional field '{}'"),
        ("{a.b}", "field '{a.b}' uses attribute or index access"),
        ("{date.year}", "field '{date.year}' uses attribute or index access"),
        ("{a[0]}", "field '{a[0]}' uses attribute or index access"),
        ("{host.__class__}", "field '{host.__class__}' uses attribute or index access"),
        ("{date!r}", "field '{date!r}' has a conversion or format spec"),
        ("{date:>20}", "field '{date:>20}' has a conversion or format spec"),
        ("{", "malformed template '{'"),
        ("}", "malformed template '}'"),
        ("pytest {date", "malformed template 'pytest {date'"),
        ("{bad\nname}", "unknown field '{bad\\nname}'"),
    ],
)
def test_bad_templates(template: str, named: str) -> None:
    with pytest.raises(TemplateError) as info:
        validate(template)
    message = str(info.value)
    assert named in message
    assert "\n" not in message
    assert "valid fields: {date}, {time}," in message
    assert all("{" + name + "}" in message for name in FIELDS)
    with pytest.raises(TemplateError):
        render_title(template, make())


def test_template_error_is_a_value_error() -> None:
    assert issubclass(TemplateError, ValueError)


def test_long_malformed_template_is_shortened_in_the_message() -> None:
    with pytest.raises(TemplateError) as info:
        validate("x" * 500 + "{")
    assert len(str(info.value)) < 500


def test_description_in_ci() -> None:
    assert render_description(make()) == "\n".join(
        [
            "pytest run on GitHub Actions build #42",
            "Build: https://github.com/acme/shop/actions/runs/9001",
            "Branch: main",
            f"Commit: {SHA}",
            "Release: R-7",
            "Host: runner-1",
            "Python: 3.12.3",
            "pytest: 8.2.0",
            "Started: 2024-05-01T13:04:05+02:00",
        ]
    )


def test_description_outside_ci_leaves_unknown_lines_out() -> None:
    assert render_description(make(CiInfo(), release="")) == "\n".join(
        [
            "pytest run outside CI",
            "Host: runner-1",
            "Python: 3.12.3",
            "pytest: 8.2.0",
            "Started: 2024-05-01T13:04:05+02:00",
        ]
    )


def test_description_without_a_build_number() -> None:
    headline = render_description(make(CiInfo(provider="azure"))).splitlines()[0]
    assert headline == "pytest run on Azure Pipelines"


def test_description_of_an_empty_mapping() -> None:
    assert render_description({}) == "pytest run outside CI"


def test_description_values_cannot_add_lines() -> None:
    text = render_description(make(release="R-7\nCommit: forged"))
    assert "Release: R-7 Commit: forged" in text.splitlines()


def test_the_headline_cannot_add_lines_either() -> None:
    ci = CiInfo(provider="jenkins", build="3\nCommit: forged\nBranch: release")
    first, *_ = render_description(make(ci)).splitlines()
    assert first == "pytest run on Jenkins build #3 Commit: forged Branch: release"


def test_description_is_trimmed() -> None:
    text = render_description(make(release="x" * 20_000))
    assert len(text) == MAX_DESCRIPTION
    assert text.endswith("…")

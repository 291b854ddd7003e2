"""CI metadata end to end: a faked GitHub Actions build names the execution Hawzu receives."""

from __future__ import annotations

import platform
import re

import pytest

from pytest_hawzu import cli
from tests.conftest import FAST, only_execution

SHA = "3f2c1d0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e"
GITHUB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_SHA": SHA,
    "GITHUB_REF_NAME": "main",
    "GITHUB_RUN_NUMBER": "1234",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/shop",
    "GITHUB_RUN_ID": "9001",
}
BUILD_URL = "https://github.com/acme/shop/actions/runs/9001"

ONE = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_one():
    pass
"""


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GITHUB.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("github")
def test_the_default_title_names_the_branch_commit_and_build(pytester, hawzu_env):
    pytester.makepyfile(test_one=ONE)
    pytester.runpytest(*FAST)
    title = only_execution(hawzu_env)["title"]
    assert re.fullmatch(
        r"pytest \d{4}-\d\d-\d\d \d\d:\d\d:\d\d · main@3f2c1d0 · github #1234", title
    ), title


@pytest.mark.usefixtures("github")
def test_the_description_says_where_the_run_came_from(pytester, hawzu_env):
    pytester.makepyfile(test_one=ONE)
    pytester.runpytest(*FAST)
    lines = only_execution(hawzu_env)["description"].splitlines()
    assert lines[:5] == [
        "pytest run on GitHub Actions build #1234",
        f"Build: {BUILD_URL}",
        "Branch: main",
        f"Commit: {SHA}",
        "Release: 1.4.0",
    ]
    assert f"Python: {platform.python_version()}" in lines
    assert f"pytest: {pytest.__version__}" in lines


@pytest.mark.usefixtures("github")
def test_a_title_template_picks_ci_fields(pytester, hawzu_env):
    pytester.makepyfile(test_one=ONE)
    pytester.runpytest(
        *FAST, "--hawzu-title={provider_name} {build} · {branch} · {commit_short} · {build_url}"
    )
    assert only_execution(hawzu_env)["title"] == (
        f"GitHub Actions 1234 · main · 3f2c1d0 · {BUILD_URL}"
    )


def test_pull_requests_name_the_head_branch(pytester, hawzu_env, monkeypatch):
    for name, value in {**GITHUB, "GITHUB_REF_NAME": "87/merge", "GITHUB_HEAD_REF": "fix"}.items():
        monkeypatch.setenv(name, value)
    pytester.makepyfile(test_one=ONE)
    pytester.runpytest(*FAST, "--hawzu-title={ref}")
    assert only_execution(hawzu_env)["title"] == "fix@3f2c1d0"


def test_outside_ci_the_title_has_no_ci_part(pytester, hawzu_env):
    pytester.makepyfile(test_one=ONE)
    pytester.runpytest(*FAST)
    execution = only_execution(hawzu_env)
    assert re.fullmatch(r"pytest \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", execution["title"])
    assert execution["description"].startswith("pytest run outside CI\n")


def test_a_user_and_password_in_a_ci_url_never_leave_the_machine(pytester, hawzu_env, monkeypatch):
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_PIPELINE_IID", "7")
    monkeypatch.setenv("CI_JOB_URL", "https://deploy:hunter2pass@gitlab.example.com/g/p/-/jobs/5")
    pytester.makepyfile(test_one=ONE)
    result = pytester.runpytest(*FAST, "--hawzu-title={run} {build_url}")
    execution = only_execution(hawzu_env)
    shown = "https://***@gitlab.example.com/g/p/-/jobs/5"
    assert execution["title"] == f"gitlab #7 {shown}"
    assert f"Build: {shown}" in execution["description"].splitlines()
    assert "hunter2pass" not in result.stdout.str()


def test_a_token_cut_to_fit_the_title_leaves_no_part_of_it(pytester, hawzu_env, monkeypatch):
    token = hawzu_env.token
    monkeypatch.setenv("JENKINS_URL", "https://jenkins.example")
    monkeypatch.setenv("BUILD_NUMBER", "3")
    # Long enough that the 255-character title would end in the middle of the token.
    monkeypatch.setenv("BUILD_URL", "https://ci/" + "x" * 230 + "?token=" + token)
    pytester.makepyfile(test_one=ONE)
    pytester.runpytest(*FAST, "--hawzu-title={build_url}")
    execution = only_execution(hawzu_env)
    for text in (execution["title"], execution["description"]):
        assert token[:6] not in text
    assert (
        execution["description"].endswith("?token=***")
        or "?token=***\n" in (execution["description"])
    )


# -- `hawzu execution create`: the same title and description as a session ----------


def create(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["execution", "create", "--release", "1.4.0", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("github")
def test_a_created_execution_is_titled_and_described_as_a_session_would(
    pytester, hawzu_env, capsys
):
    code, _, err = create(capsys)
    pytester.makepyfile(test_one=ONE)
    pytester.runpytest(*FAST)

    assert code == 0, err
    created, session = hawzu_env.executions()
    pattern = r"pytest \d{4}-\d\d-\d\d \d\d:\d\d:\d\d · main@3f2c1d0 · github #1234"
    assert re.fullmatch(pattern, created["title"]), created["title"]
    # Line for line, but for the minute each was started.
    assert _but_started(created["description"]) == _but_started(session["description"])
    assert created["description"].startswith("pytest run on GitHub Actions build #1234\n")


def _but_started(description: str) -> list[str]:
    return [line for line in description.splitlines() if not line.startswith("Started: ")]


@pytest.mark.usefixtures("github")
def test_create_renders_a_title_template(hawzu_env, capsys):
    code, _, err = create(capsys, "--title", "nightly {release} {{{branch}}} · {run}")
    assert code == 0, err
    assert only_execution(hawzu_env)["title"] == "nightly 1.4.0 {main} · github #1234"


def test_create_takes_the_title_template_from_hawzu_title(hawzu_env, capsys, monkeypatch):
    monkeypatch.setenv("HAWZU_TITLE", "from the environment · {release} · {run}")
    code, _, err = create(capsys)
    assert code == 0, err
    # Outside CI {run} is empty, and its segment goes with it.
    assert only_execution(hawzu_env)["title"] == "from the environment · 1.4.0"


def test_create_refuses_a_bad_template_in_one_line_before_asking_hawzu(hawzu_env, capsys):
    code, out, err = create(capsys, "--title", "CI {nope}")
    assert (code, out) == (2, "")
    assert err.startswith("hawzu: error: --title: invalid title template: unknown field '{nope}';")
    assert err.count("\n") == 1
    assert hawzu_env.requests() == []


def test_create_names_hawzu_title_when_it_is_the_bad_template(hawzu_env, capsys, monkeypatch):
    monkeypatch.setenv("HAWZU_TITLE", "{0}")
    code, _, err = create(capsys)
    assert code == 2
    assert err.startswith("hawzu: error: HAWZU_TITLE: invalid title template: positional field")


def test_create_hides_the_token_a_ci_variable_holds(hawzu_env, capsys, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REF_NAME", f"leak-{hawzu_env.token}")
    code, _, err = create(capsys, "--title", "{branch}")
    assert code == 0, err
    execution = only_execution(hawzu_env)
    assert hawzu_env.token not in execution["title"] + execution["description"]
    assert execution["title"] == "leak-***"

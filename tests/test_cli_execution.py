"""`hawzu execution create` and `hawzu execution complete`, the ends of a CI pipeline.

`create` prints the execution's ID and nothing else on stdout, so that a
shell can capture it: `HAWZU_EXECUTION=$(hawzu execution create --release 1.4.0)`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

from pytest_hawzu import cli
from pytest_hawzu.client import HawzuClient, HawzuError
from pytest_hawzu.startup import Plan, StartupError, describe, open_execution
from tests.conftest import only_execution


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_prints_only_the_new_id(hawzu_env, capsys):
    code, out, err = run(capsys, "execution", "create", "--release", "1.4.0", "--title", "CI #1234")

    assert code == 0, err
    execution = only_execution(hawzu_env)
    assert out == f"{execution['id']}\n"
    assert execution["title"] == "CI #1234"
    assert execution["release_id"] == "rel_7"
    assert execution["status"] == "IN_PROGRESS"


def test_create_with_a_key_gives_the_same_execution_each_time(hawzu_env, capsys):
    first = run(capsys, "execution", "create", "--release", "rel_7", "--key", "pipeline-9")
    again = run(capsys, "execution", "create", "--release", "rel_7", "--key", "pipeline-9")
    other = run(capsys, "execution", "create", "--release", "rel_7", "--key", "pipeline-10")

    assert first[0] == again[0] == other[0] == 0
    assert first[1] == again[1] != other[1]
    assert len(hawzu_env.executions()) == 2


def test_complete_completes_and_is_idempotent(hawzu_env, capsys):
    _, out, _ = run(capsys, "execution", "create", "--release", "1.4.0")
    execution_id = out.strip()

    assert run(capsys, "execution", "complete", execution_id) == (
        0,
        f"execution {execution_id} completed\n",
        "",
    )
    assert run(capsys, "execution", "complete", execution_id)[0] == 0
    assert only_execution(hawzu_env)["status"] == "COMPLETED"


def test_create_and_complete_retry_a_transient_error(hawzu_env, capsys):
    hawzu_env.fail_next(503, path="/api/v1/executions", retry_after=0)
    code, out, _ = run(capsys, "execution", "create", "--release", "1.4.0")
    assert code == 0
    execution_id = out.strip()
    # Even without --key every attempt carries one key: had the first attempt
    # created the execution and only its answer been lost, the retry could not
    # create a second one.
    keys = [r.idempotency_key for r in hawzu_env.requests() if r.method == "POST"]
    assert len(keys) == 2
    assert keys[0] is not None
    assert keys[0] == keys[1]

    hawzu_env.fail_next(503, path=f"/api/v1/executions/{execution_id}", retry_after=0)
    assert run(capsys, "execution", "complete", execution_id)[0] == 0

    assert only_execution(hawzu_env)["status"] == "COMPLETED"
    assert [r.status for r in hawzu_env.requests() if r.method == "PATCH"] == [503, 200]


def test_url_option_overrides_the_environment(sandbox, monkeypatch, capsys):
    monkeypatch.setenv("HAWZU_API_TOKEN", sandbox.token)
    monkeypatch.setenv("HAWZU_URL", "http://127.0.0.1:9")  # nothing listens there
    code, out, err = run(capsys, "execution", "create", "--release", "1.4.0", "--url", sandbox.url)
    assert code == 0, err
    assert out.strip() == only_execution(sandbox)["id"]


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        pytest.param(
            ["execution", "create", "--release", "9.9.9"],
            1,
            "*release '9.9.9' not found*",
            id="release",
        ),
        pytest.param(
            ["execution", "complete", "exe_404"],
            1,
            "*completing exe_404 failed: HTTP 404*",
            id="id",
        ),
        pytest.param(
            ["execution", "create", "--release", "1.4.0", "--key", "has space"],
            2,
            "*--key*printable ASCII*",
            id="key",
        ),
        pytest.param(
            ["execution", "create", "--release", "1.4.0", "--url", "http://example.com"],
            2,
            "*plain http is allowed only for loopback*",
            id="url",
        ),
        pytest.param(
            ["execution", "create", "--release", "1.4.0", "--url", ""],
            2,
            "hawzu: error: --url '': expected an http(s) URL*",
            id="empty-url",
        ),
        pytest.param(
            ["execution", "create", "--release", ""],
            2,
            "hawzu: error: --release must not be empty",
            id="empty-release",
        ),
        pytest.param(
            ["execution", "complete", ""],
            2,
            "hawzu: error: the execution ID must not be empty",
            id="empty-id",
        ),
    ],
)
def test_failures_say_why_on_stderr(hawzu_env, capsys, argv, code, message):
    got, out, err = run(capsys, *argv)
    assert (got, out) == (code, "")
    assert len(err.splitlines()) == 1, err
    assert fnmatch(err.strip(), message), err


def test_a_locked_release_is_explained(hawzu_env, capsys):
    hawzu_env.set_release_status("rel_7", "COMPLETED")
    code, out, err = run(capsys, "execution", "create", "--release", "1.4.0")
    assert (code, out) == (1, "")
    assert "COMPLETED" in err
    assert hawzu_env.executions() == []


def test_without_a_token_nothing_is_sent(sandbox, monkeypatch, capsys):
    monkeypatch.setenv("HAWZU_URL", sandbox.url)
    code, out, err = run(capsys, "execution", "create", "--release", "1.4.0")
    assert (code, out) == (2, "")
    assert "HAWZU_API_TOKEN is not set" in err
    assert sandbox.requests() == []


def test_the_installed_command(hawzu_env):
    """The `hawzu` console script, as a pipeline's first and last jobs call it."""
    hawzu = Path(sys.executable).with_name("hawzu")
    env = dict(os.environ)

    created = subprocess.run(
        [str(hawzu), "execution", "create", "--release", "1.4.0", "--key", "ci-77"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert created.returncode == 0, created.stderr
    execution_id = created.stdout.strip()
    assert created.stdout == f"{execution_id}\n"

    completed = subprocess.run(
        [str(hawzu), "execution", "complete", execution_id],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert hawzu_env.execution(execution_id)["status"] == "COMPLETED"


def test_a_bad_hawzu_url_in_the_environment_is_named_as_such(hawzu_env, monkeypatch, capsys):
    monkeypatch.setenv("HAWZU_URL", "ftp://example.com")
    got, out, err = run(capsys, "execution", "create", "--release", "1.4.0")
    assert (got, out) == (2, "")
    assert err.startswith("hawzu: error: HAWZU_URL 'ftp://example.com': "), err


def test_a_url_python_cannot_split_is_one_line(hawzu_env, monkeypatch, capsys):
    got, out, err = run(
        capsys, "execution", "create", "--release", "1.4.0", "--url", "https://u:hunter2@[::1"
    )
    assert (got, out) == (2, "")
    assert err.startswith("hawzu: error: --url "), err
    assert "hunter2" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["execution", "create", "--release", "1.4.\udcff"],
        ["execution", "create", "--release", "1.4.0", "--project", "p\udcff"],
        ["execution", "complete", "exe_\udcff"],
    ],
    ids=["release", "project", "id"],
)
def test_an_argument_that_is_not_text_is_one_line(hawzu_env, capsys, argv):
    # Bytes that are not UTF-8 reach Python as lone surrogates.
    got, out, err = run(capsys, *argv)
    assert (got, out) == (2, "")
    assert len(err.splitlines()) == 1, err
    assert "is not valid UTF-8 text" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["execution", "create", "--release", "1.4.0", "--rate", "0"],
            "hawzu execution create: error: argument --rate: expected a number >= 0.01, "
            "got '0' (see hawzu execution create --help)",
        ),
        (
            ["sandbox", "--port", "70000"],
            "hawzu sandbox: error: argument --port: expected a port from 0 to 65535, "
            "got '70000' (see hawzu sandbox --help)",
        ),
        (
            ["upload"],
            "hawzu upload: error: the following arguments are required: PATH "
            "(see hawzu upload --help)",
        ),
    ],
)
def test_argument_errors_are_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err == message + "\n"


def test_utf8_arguments_read_in_a_c_locale_are_taken_as_typed(hawzu_env, capsys):
    # Without Python's UTF-8 mode, LC_ALL=C hands every byte past ASCII of argv
    # to Python as a lone surrogate, though the bytes are UTF-8.
    title = "r\u00e9cette \u00b7 \u2026".encode().decode("ascii", "surrogateescape")
    code, out, err = run(capsys, "execution", "create", "--release", "1.4.0", "--title", title)
    assert code == 0, err
    execution = only_execution(hawzu_env)
    assert out == f"{execution['id']}\n"
    assert execution["title"] == "r\u00e9cette \u00b7 \u2026"


def test_an_empty_title_is_refused_before_asking_hawzu(hawzu_env, capsys):
    code, out, err = run(capsys, "execution", "create", "--release", "1.4.0", "--title", " ")
    assert (code, out) == (2, "")
    assert err == "hawzu: error: --title must not be empty\n"
    assert hawzu_env.requests() == []


def test_a_long_title_is_cut_as_the_plugin_cuts_it(hawzu_env, capsys):
    code, _, err = run(capsys, "execution", "create", "--release", "1.4.0", "--title", "x" * 300)
    assert code == 0, err
    assert only_execution(hawzu_env)["title"] == "x" * 254 + "…"


def test_advice_names_the_commands_own_options(hawzu_env, capsys):
    code, _, err = run(capsys, "execution", "create", "--release", "9.9.9")
    assert code == 1
    assert "check --release and --project" in err
    assert "--hawzu-" not in err


def test_the_plugins_option_names_become_the_commands():
    advice = describe(HawzuError("connection refused")) + "; or lower --hawzu-rate"
    assert cli.in_terms(advice, cli.EXECUTION_TERMS) == (
        "connection refused; check --url (HAWZU_URL) and the network; or lower --rate"
    )
    assert cli.in_terms(advice, cli.UPLOAD_TERMS) == (
        "connection refused; check --url (or the URL the journal recorded) and the network; "
        "or lower --rate"
    )


def test_the_command_also_runs_as_a_module(hawzu_env):
    # For CI scripts that call it through the Python they run tests with.
    completed = subprocess.run(
        [sys.executable, "-m", "pytest_hawzu.cli", "execution", "create", "--release", "1.4.0"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "HAWZU_URL": hawzu_env.url, "HAWZU_API_TOKEN": hawzu_env.token},
    )
    assert completed.returncode == 0, completed.stderr
    (execution,) = hawzu_env.executions()
    assert completed.stdout.strip() == execution["id"]


def test_advice_about_an_execution_of_no_named_release_fits_an_upload(httpserver):
    # An upload joins the journal's execution as a run does, and may hear this.
    httpserver.expect_request("/api/v1/me").respond_with_json({"projects": [{"id": "proj_101"}]})
    httpserver.expect_request("/api/v1/executions/exe_9").respond_with_json({"id": "exe_9"})
    client = HawzuClient(httpserver.url_for("/").rstrip("/"), "token")
    plan = Plan(release="rel_7", project=None, title="t", execution="exe_9")
    with pytest.raises(StartupError) as raised:
        open_execution(client, lambda fn: fn(), plan)
    client.close()
    advice = cli.in_terms(str(raised.value), cli.UPLOAD_TERMS)
    assert "--hawzu-" not in advice
    assert advice.endswith(
        'remove "release" from the journal\'s first line to deliver into it as it is'
    )

"""Start-up: token, release, execution. Each failure is one line and leaves the exit code alone."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from test_delivery import CONTROL

from pytest_hawzu.client import ApiError, HawzuClient, Release, SetupError, TransportError
from pytest_hawzu.retry import NO_ATTEMPTS_LEFT, GaveUp, Retrier, RetryPolicy
from pytest_hawzu.startup import (
    Plan,
    StartupError,
    _listed,
    _wrap,
    describe,
    may_pass,
    open_execution,
)
from pytest_hawzu.throttle import Throttle
from pytest_hawzu.uploader import Uploader
from tests.conftest import only_execution, statuses

SUITE = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_one():
    pass
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_one=SUITE)
    result = pytester.runpytest(*args)
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output, output
    assert "INTERNALERROR" not in output
    return result


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "n2"])
@pytest.mark.parametrize(
    "mode", ["--collect-only", "--setup-only", "--setup-plan", "--fixtures", "--fixtures-per-test"]
)
def test_a_session_that_runs_no_tests_reports_nothing(pytester, hawzu_env, mode, xdist):
    # Listing tests in a job where HAWZU_RELEASE is set must not leave an
    # execution behind, and a test whose setup was only planned has not passed.
    result = run(pytester, "--hawzu-release=1.4.0", "--hawzu-strict", mode, *xdist)
    assert result.ret == pytest.ExitCode.OK
    assert hawzu_env.requests() == []
    assert not (pytester.path / ".hawzu").exists()
    assert "- Hawzu -" not in result.stdout.str()  # --fixtures lists the plugin's own


NESTING = """
import subprocess, sys
import pytest

@pytest.mark.hawzu("TCM-1")
def test_runs_pytest_on_a_sample_project():
    # The inner pytest inherits HAWZU_RELEASE, HAWZU_URL and the token.
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "sample", *INNER_ARGS]
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
"""
SAMPLE = """
import pytest

@pytest.mark.hawzu("TCM-5")
def test_sample():
    pass
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_a_pytest_started_by_a_test_does_not_report_on_inherited_settings(
    pytester, hawzu_env, monkeypatch, xdist
):
    monkeypatch.setenv("HAWZU_RELEASE", "1.4.0")
    pytester.makepyfile(test_outer="INNER_ARGS = []\n" + NESTING)
    pytester.mkdir("sample").joinpath("test_sample.py").write_text(SAMPLE)
    result = run(pytester, "-p", "no:cacheprovider", "test_outer.py", *xdist)
    assert result.ret == pytest.ExitCode.OK
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "n2"])
@pytest.mark.parametrize(
    "selection",
    [["-k", "no_such_test"], ["no_such_file.py"], ["-m", "nothing"]],
    ids=["deselected", "missing-file", "unmarked-only"],
)
def test_a_session_with_nothing_to_report_opens_no_execution(pytester, hawzu_env, selection, xdist):
    # A shard whose selection came out empty, a typo in a path, a run of tests
    # without cases: an empty execution in the release is noise, not a report.
    pytester.makeini("[pytest]\nmarkers =\n    nothing\n")
    pytester.makepyfile(test_plain="def test_unmarked(): pass\n")
    if selection == ["-m", "nothing"]:
        selection = ["test_plain.py"]
    result = run(pytester, "--hawzu-release=1.4.0", *selection, *xdist)
    assert hawzu_env.executions() == []
    assert not list((pytester.path / ".hawzu").glob("*.jsonl"))
    if result.ret != pytest.ExitCode.USAGE_ERROR:  # pytest ends a missing file's run early
        result.stdout.fnmatch_lines(["no execution: no result to report"])


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["no-xdist", "n2"])
def test_a_session_stopped_by_an_unknown_ini_key_opens_no_execution(pytester, hawzu_env, xdist):
    # --strict-config (or pytest 9's strict) checks the ini file once collection
    # is over, and stops the run with a usage error: no test runs, as for a
    # mistyped path, so no execution of cases "not executed" either.
    pytester.makeini("[pytest]\naddopts = --strict-config\nasyncio_mode = auto\n")
    result = run(pytester, "--hawzu-release=1.4.0", *xdist)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*Unknown config option: asyncio_mode*"])
    assert hawzu_env.executions() == []
    assert not list((pytester.path / ".hawzu").glob("*.jsonl"))


def test_cache_show_reports_nothing(pytester, hawzu_env):
    result = pytester.runpytest("--hawzu-release=1.4.0", "--cache-show")
    assert result.ret == pytest.ExitCode.OK
    assert hawzu_env.requests() == []
    assert "Hawzu" not in result.stdout.str()


def test_a_pytest_started_by_a_test_does_not_report_on_the_addopts_it_shares(pytester, hawzu_env):
    # The inner pytest reads the same pytest.ini: its addopts are not its own
    # command line asking to report.
    pytester.makeini("[pytest]\naddopts = --hawzu-release=1.4.0\n")
    pytester.makepyfile(test_outer="INNER_ARGS = []\n" + NESTING)
    pytester.mkdir("sample").joinpath("test_sample.py").write_text(SAMPLE)
    result = run(pytester, "-p", "no:cacheprovider", "test_outer.py")
    assert result.ret == pytest.ExitCode.OK
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}


def test_a_pytest_main_with_path_arguments_inside_a_reporting_session(pytester, hawzu_env):
    # pytest.main() takes paths as objects; the child's own options are read
    # from that list.
    pytester.makepyfile(
        test_outer="""
        import pathlib
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_runs_pytest_main():
            inner = pathlib.Path(__file__).parent / "sample" / "test_sample.py"
            assert pytest.main([inner, "-q", "-p", "no:cacheprovider"]) == 0
        """
    )
    pytester.mkdir("sample").joinpath("test_sample.py").write_text(SAMPLE)
    result = run(pytester, "--hawzu-release=1.4.0", "-p", "no:cacheprovider", "test_outer.py")
    assert result.ret == pytest.ExitCode.OK
    assert statuses(only_execution(hawzu_env)) == {"TCM-1": "PASSED"}


@pytest.mark.parametrize("inherited", [{}, {"HAWZU_EXECUTION_KEY": "ci-pipeline-42"}])
def test_a_pytest_started_by_a_test_reports_when_its_command_line_asks(
    pytester, hawzu_env, monkeypatch, inherited
):
    # Into an execution of its own: a CI job's key is the outer run's, and
    # joining with it would overwrite the outer run's cases.
    for name, value in inherited.items():
        monkeypatch.setenv(name, value)
    inner = "INNER_ARGS = ['--hawzu-release=1.4.0']\n"
    pytester.makepyfile(test_outer=inner + NESTING)
    pytester.mkdir("sample").joinpath("test_sample.py").write_text(SAMPLE)
    result = run(pytester, "-p", "no:cacheprovider", "--hawzu-release=1.4.0", "test_outer.py")
    assert result.ret == pytest.ExitCode.OK
    reported = [statuses(e) for e in hawzu_env.executions()]
    assert sorted(reported, key=str) == [{"TCM-1": "PASSED"}, {"TCM-5": "PASSED"}]


@pytest.mark.parametrize("release", ["1.4.0", "rel_7"])
def test_release_by_name_or_id(pytester, hawzu_env, release):
    run(pytester, f"--hawzu-release={release}")
    execution = only_execution(hawzu_env)
    assert execution["release_id"] == "rel_7"
    assert statuses(execution) == {"TCM-1": "PASSED"}


def test_the_token_is_checked_first(pytester, hawzu_env):
    run(pytester, "--hawzu-release=1.4.0")
    first = hawzu_env.requests()[0]
    assert (first.method, first.path) == ("GET", "/api/v1/me")


def test_a_wrong_token(pytester, hawzu_env, monkeypatch):
    monkeypatch.setenv("HAWZU_API_TOKEN", "wrong-token")
    result = run(pytester, "--hawzu-release=1.4.0")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "Hawzu: checking the token (GET /me) failed: HTTP 401*check HAWZU_API_TOKEN*",
            "*- Hawzu -*",
            "not reported: checking the token*",
            "journal kept: *; deliver it later with: hawzu upload *",
        ]
    )
    assert hawzu_env.executions() == []
    assert [r.path for r in hawzu_env.requests()] == ["/api/v1/me"]


def test_a_ca_bundle_that_is_not_there_is_one_line_and_one_attempt(
    pytester, hawzu_env, monkeypatch
):
    # Waiting cannot change a setting: no retries, no rounds while the tests run.
    monkeypatch.setenv("HAWZU_URL", "https://127.0.0.1:1")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pytester.path / "missing.pem"))
    result = run(pytester, "--hawzu-release=1.4.0")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "Hawzu: checking the token (GET /me) failed: GET /me: the CA bundle *missing.pem "
            "(REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE) does not exist: point REQUESTS_CA_BUNDLE *",
            "*- Hawzu -*",
            "not reported: checking the token*",
            "journal kept: *; deliver it later with: hawzu upload *",
        ]
    )
    output = result.stdout.str()
    assert "gave up after" not in output
    assert "trying" not in output
    assert output.count("Hawzu: checking the token") == 1


def test_a_setting_that_cannot_work_is_not_tried_again_later() -> None:
    error = SetupError("GET /me: the proxy answered 407 Proxy Authentication Required: ...")
    calls = []

    def me() -> None:
        calls.append(1)
        raise error

    retrier = Retrier(Throttle(1000.0), RetryPolicy(), sleep=lambda seconds: False)
    with pytest.raises(GaveUp) as caught:
        retrier.call(me)
    assert calls == [1]
    assert not may_pass(caught.value)
    assert not may_pass(_wrap("checking the token (GET /me)", caught.value))
    assert describe(caught.value) == str(error)


def test_a_missing_token(pytester, hawzu_env, monkeypatch):
    monkeypatch.delenv("HAWZU_API_TOKEN")
    result = run(pytester, "--hawzu-release=1.4.0")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["Hawzu: HAWZU_API_TOKEN is not set: export the API token*"])
    assert hawzu_env.requests() == []


def test_a_missing_token_promises_no_journal_when_there_is_none(pytester, hawzu_env, monkeypatch):
    monkeypatch.delenv("HAWZU_API_TOKEN")
    (pytester.path / "afile").write_text("a file where the spool directory should be")
    result = run(pytester, "--hawzu-release=1.4.0", "--hawzu-spool-dir=afile/sub")
    result.stdout.fnmatch_lines(["Hawzu: no journal in *; results are not kept"])
    result.stdout.fnmatch_lines(["not reported: HAWZU_API_TOKEN is not set: *"])
    assert "kept in the journal" not in result.stdout.str()


@pytest.mark.parametrize(
    ("release", "message"),
    [
        ("9.9.9", "*release '9.9.9' not found in project proj_101*check --hawzu-release*"),
        ("1.3.0", "*release 1.3.0 (rel_6) is COMPLETED: Hawzu accepts no new executions*"),
        ("1.5.0", "*release 1.5.0 (rel_8) is PAUSED*choose an open release*"),
        ("rel_6", "*release 1.3.0 (rel_6) is COMPLETED*"),
    ],
)
def test_a_release_that_cannot_take_the_run(pytester, hawzu_env, release, message):
    result = run(pytester, f"--hawzu-release={release}")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"Hawzu: {message}"])
    assert hawzu_env.executions() == []


def test_a_release_name_needs_a_project_when_the_token_sees_several(pytester, hawzu_env):
    hawzu_env.add_project("proj_202", "Billing", "BIL")
    hawzu_env.add_release("rel_20", "1.4.0", "proj_202", "IN_PROGRESS")
    result = run(pytester, "--hawzu-release=1.4.0")
    result.stdout.fnmatch_lines(
        ["Hawzu: *finding it by name needs a project: set --hawzu-project*proj_101, proj_202*"]
    )
    run(pytester, "--hawzu-release=1.4.0", "--hawzu-project=proj_202")
    assert only_execution(hawzu_env)["release_id"] == "rel_20"


def test_a_release_name_shared_by_several_lists_them_to_choose_from(pytester, hawzu_env):
    hawzu_env.add_release("rel_21", "1.4.0")
    result = run(pytester, "--hawzu-release=1.4.0")
    result.stdout.fnmatch_lines(
        [
            "Hawzu: *2 releases are named '1.4.0' in project proj_101 (rel_7, rel_21): "
            "pass the release ID to --hawzu-release instead"
        ]
    )
    assert hawzu_env.executions() == []


def test_releases_to_choose_from_show_a_name_that_differs_and_stop_at_ten():
    def release(n: int, name: str) -> Release:
        return Release(id=f"rel_{n}", name=name, project_id="proj_101", status="IN_PROGRESS")

    assert _listed([release(1, "RC-1"), release(2, "rc-1 ")], "RC-1") == "rel_1, rel_2 'rc-1 '"
    many = _listed([release(n, "x") for n in range(12)], "x")
    assert many == ", ".join(f"rel_{n}" for n in range(10)) + ", and 2 more"


def test_a_lock_that_arrives_while_creating(pytester, hawzu_env):
    hawzu_env.fail_next(409, path="/executions", code="RELEASE_LOCKED")
    result = run(pytester, "--hawzu-release=1.4.0")
    result.stdout.fnmatch_lines(["Hawzu: release 1.4.0 (rel_7) is IN_PROGRESS*"])


def test_an_unreachable_hawzu(pytester, hawzu_env, monkeypatch):
    url = hawzu_env.url
    hawzu_env.stop()
    monkeypatch.setenv("HAWZU_URL", url)
    result = run(pytester, "--hawzu-release=1.4.0", "--hawzu-flush-timeout=1")
    assert result.ret == 0
    # What went wrong, once: not "did not answer" on top of the retrier's own line.
    result.stdout.fnmatch_lines(
        [
            "Hawzu: start-up had not finished when the end-of-session flush timed out "
            "after 1 s; its last attempt: *Connection*check --hawzu-url (HAWZU_URL)*"
        ]
    )
    assert "aborted" not in result.stdout.str()


def test_start_up_held_back_by_the_rate_does_not_blame_the_network(pytester, hawzu_env):
    result = run(pytester, "--hawzu-release=1.4.0", "--hawzu-rate=0.05", "--hawzu-flush-timeout=1")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "Hawzu: start-up had not finished when the end-of-session flush timed out "
            "after 1 s (no answer yet, or requests waiting their turn under --hawzu-rate)"
        ]
    )
    assert "and the network" not in result.stdout.str()


def test_a_start_up_that_gives_up_on_a_short_outage_is_tried_again(pytester, hawzu_env):
    """Batches are queued again after an outage; start-up must be too, or a few
    seconds of 503s (or of a rate limit shared by shards) lose the whole session."""
    hawzu_env.fail_next(503, 6, path="/me", retry_after=0)
    pytester.makepyfile(
        CONTROL
        + """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_outlasts_the_first_round():
    def me_asked():
        return [r for r in sandbox("requests")["data"] if r["path"].endswith("/me")]
    wait_for("the first round of start-up", lambda: len(me_asked()) >= 6)
"""
    )
    result = pytester.runpytest("--hawzu-release=1.4.0", "--hawzu-rate=1000")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            # "again every few seconds...", or "once more" should the last answer
            # of the round come after the test ended: either way a round follows.
            "Hawzu: checking the token (GET /me) failed: gave up after 6 attempt(s)*; trying *",
            "Hawzu: start-up went through on a later attempt",
        ]
    )
    execution = only_execution(hawzu_env)
    assert statuses(execution) == {"TCM-1": "PASSED"}
    assert execution["status"] == "COMPLETED"
    assert not list((pytester.path / ".hawzu").glob("*.jsonl"))


def test_a_start_up_that_fails_at_the_end_gets_one_last_round_not_the_whole_flush(
    pytester, hawzu_env
):
    """A wrong URL must not hold every session's end for --hawzu-flush-timeout."""
    hawzu_env.fail_next(503, 10_000, path="/me", retry_after=0)
    result = run(pytester, "--hawzu-release=1.4.0", "--hawzu-rate=1000", "--hawzu-flush-timeout=60")
    result.stdout.fnmatch_lines(["not reported: checking the token (GET /me) failed: *"])
    assert "timed out" not in result.stdout.str()
    # The first round, and at most one more once the tests ended.
    assert len([r for r in hawzu_env.requests() if r.path.endswith("/me")]) <= 12


def test_strict_start_up_failure_stops_before_any_test(pytester, hawzu_env):
    result = run(pytester, "--hawzu-release=1.3.0", "--hawzu-strict")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: Hawzu (--hawzu-strict): release 1.3.0 (rel_6) is COMPLETED*"]
    )
    output = result.stdout.str() + result.stderr.str()
    assert output.count("Hawzu (--hawzu-strict)") == 1
    assert "kept in the journal" not in output
    assert "test_one.py" not in result.stdout.str()
    # No test ran: there is nothing for `hawzu upload` to deliver later.
    assert not list((pytester.path / ".hawzu").glob("*.jsonl"))


def test_strict_start_up_that_times_out_says_why(pytester, hawzu_env, monkeypatch):
    url = hawzu_env.url
    hawzu_env.stop()
    monkeypatch.setenv("HAWZU_URL", url)
    result = run(pytester, "--hawzu-release=1.4.0", "--hawzu-strict", "--hawzu-flush-timeout=1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: Hawzu (--hawzu-strict): start-up had not finished after 1 s "
            "(--hawzu-flush-timeout); its last attempt: *Connection*"
        ]
    )


def test_ctrl_c_while_strict_start_up_waits_keeps_no_journal(pytester, hawzu_env):
    # No test ran: the journal would only be a header for hawzu upload to trip on.
    pytester.makeconftest(
        """
from pytest_hawzu.uploader import Uploader

def _interrupted(self, timeout):
    raise KeyboardInterrupt

Uploader.wait_open = _interrupted
"""
    )
    pytester.makepyfile(test_one="def test_one():\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--hawzu-release=1.4.0", "--hawzu-strict", "-p", "no:xdist", timeout=60
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert not list((pytester.path / ".hawzu").glob("*.jsonl"))


def test_summary_names_the_execution(pytester, hawzu_env):
    result = run(pytester, "--hawzu-release=1.4.0", "--hawzu-title=nightly {release}")
    execution = only_execution(hawzu_env)
    assert execution["title"] == "nightly 1.4.0"
    result.stdout.fnmatch_lines(
        [
            f"execution {execution['id']} (completed): nightly 1.4.0",
            f"  {hawzu_env.url}*",
            "results sent: 1 passed",
        ]
    )


# -- whether trying again later may help ------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(
            GaveUp(ApiError(503, "DOWN", "later"), attempts=3, reason="x"), True, id="gave-up"
        ),
        pytest.param(ApiError(409, "EXECUTION_LOCKED", "completed"), False, id="refused"),
        pytest.param(StartupError("release 'x' not found"), False, id="startup-answer"),
        pytest.param(
            _wrap("checking the token", GaveUp(None, attempts=1, reason="aborted")),
            True,
            id="startup-outage",
        ),
        pytest.param(
            _wrap("checking the token", ApiError(403, "FORBIDDEN", "no")), False, id="startup-403"
        ),
    ],
)
def test_may_pass_tells_an_outage_from_an_answer(error, expected):
    assert may_pass(error) is expected


# -- rounds of start-up attempts, on the sender thread ------------------------------------------


def _gave_up() -> GaveUp:
    return GaveUp(TransportError("GET /me: refused"), attempts=6, reason=NO_ATTEMPTS_LEFT)


def _sender(opener: Any) -> Uploader:
    retrier = Retrier(Throttle(1000), RetryPolicy(), sleep=threading.Event().wait)
    return Uploader(
        client=None,  # type: ignore[arg-type]  # start-up calls only the opener
        retrier=retrier,
        opener=opener,
        build=lambda case_id: None,  # type: ignore[arg-type,return-value]
        batch_size=100,
        abort=threading.Event(),
    )


def test_a_start_up_round_begun_after_the_tests_ended_is_the_last():
    calls: list[int] = []

    def opener() -> Any:
        calls.append(1)
        raise _gave_up()

    sender = _sender(opener)
    sender._finishing = True
    assert sender._start() is None
    assert len(calls) == 1
    assert sender.delivery.startup_error is not None


def test_a_start_up_round_the_tests_end_during_gets_one_more():
    calls: list[int] = []

    def opener() -> Any:
        calls.append(1)
        sender._finishing = True  # the tests end while this round runs
        raise _gave_up()

    sender = _sender(opener)
    assert sender._start() is None
    assert len(calls) == 2


def test_workers_of_a_session_that_does_not_report_keep_nothing(pytester, hawzu_env, monkeypatch):
    """A nested `pytest -n 1` inherits HAWZU_RELEASE; its workers must not act on it."""
    monkeypatch.setenv("HAWZU_RELEASE", "1.4.0")
    monkeypatch.setenv("PYTEST_HAWZU_PARENT", "1")  # as a reporting session's test sets it
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.hawzu("TCM-1")
        def test_fails_loudly(hawzu_attach):
            print("some output")
            hawzu_attach(b"data", name="blob.bin")
            assert False
        """
    )
    result = pytester.runpytest("-n", "1")
    result.assert_outcomes(failed=1)
    assert not (pytester.path / ".hawzu").exists()
    assert hawzu_env.requests() == []


def test_an_execution_whose_release_hawzu_does_not_name_is_not_taken_for_another(httpserver):
    httpserver.expect_request("/api/v1/me").respond_with_json({"projects": [{"id": "proj_101"}]})
    httpserver.expect_request("/api/v1/executions/exe_9").respond_with_json(
        {"id": "exe_9", "status": "IN_PROGRESS"}
    )
    httpserver.expect_request("/api/v1/releases/rel_7").respond_with_json(
        {"id": "rel_7", "name": "1.4.0", "project_id": "proj_101", "status": "IN_PROGRESS"}
    )
    client = HawzuClient(httpserver.url_for("/").rstrip("/"), "token")
    plan = Plan(release="rel_7", project=None, title="t", execution="exe_9")
    with pytest.raises(StartupError) as raised:
        open_execution(client, lambda fn: fn(), plan)
    client.close()
    assert str(raised.value) == (
        "Hawzu does not say which release execution exe_9 belongs to, so it cannot be "
        "checked against 'rel_7': leave out --hawzu-release (HAWZU_RELEASE) to report "
        "into it as it is"
    )

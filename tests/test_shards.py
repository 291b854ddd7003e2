"""CI shards: several pytest sessions, one execution.

Sessions share an execution either by creating it with one idempotency key
(`--hawzu-execution-key`) or by joining one made beforehand
(`--hawzu-execution`, typically from `hawzu execution create`). A shared
execution is left open, and no session sends NOT_EXECUTED into it, because no
session knows what the others ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from pytest_hawzu import cli
from tests.conftest import only_execution, statuses
from tests.sandbox_helpers import Api

LEAN = ("-p", "no:hypothesispytest", "-p", "no:pytest_httpserver")

SHARD_A = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_a_passes():
    pass

@pytest.mark.hawzu("TCM-2")
@pytest.mark.skip(reason="not on shard a")
def test_a_skipped():
    pass
"""

SHARD_B = """
import pytest

@pytest.mark.hawzu("TCM-3")
def test_b_passes():
    pass

@pytest.mark.hawzu("TCM-4")
def test_b_fails():
    assert False

@pytest.mark.hawzu("TCM-5")
@pytest.mark.parametrize("n", range(3))
def test_b_many(n):
    pass
"""

# Run with -x: test_c_unreached never runs, and its case must not turn up as
# NOT_EXECUTED, since for all this shard knows another shard runs it.
SHARD_C = """
import pytest

@pytest.mark.hawzu("TCM-6")
def test_c_passes():
    pass

@pytest.mark.hawzu("TCM-7")
def test_c_fails():
    assert False

@pytest.mark.hawzu("TCM-8")
def test_c_unreached():
    pass
"""

UNION = {
    "TCM-1": "PASSED",
    "TCM-2": "SKIPPED",
    "TCM-3": "PASSED",
    "TCM-4": "FAILED",
    "TCM-5": "PASSED",
    "TCM-6": "PASSED",
    "TCM-7": "FAILED",
}


def creates(sandbox: Any) -> list[Any]:
    return [r for r in sandbox.requests() if r.method == "POST" and r.path.endswith("/executions")]


def test_concurrent_shards_with_one_key_share_one_execution(pytester, hawzu_env):
    pytester.makepyfile(test_shard_a=SHARD_A, test_shard_b=SHARD_B, test_shard_c=SHARD_C)
    key = "pipeline-4711"
    shards = [
        (["test_shard_a.py", f"--hawzu-execution-key={key}", "-p", "no:xdist"], {}),
        (["test_shard_b.py", "-n", "2"], {"HAWZU_EXECUTION_KEY": key}),
        (["test_shard_c.py", f"--hawzu-execution-key={key}", "-x"], {}),
    ]
    # All three start before any is waited for, as CI runners would.
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "--hawzu-release=1.4.0", *LEAN, *args],
            cwd=pytester.path,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for args, env in shards
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]

    for proc, output in zip(procs, outputs, strict=True):
        assert proc.returncode in (0, 1), output
        assert "(left open)" in output, output
    execution = only_execution(hawzu_env)
    assert statuses(execution) == UNION
    assert execution["status"] == "IN_PROGRESS"
    posts = creates(hawzu_env)
    assert len(posts) == 3
    assert {p.idempotency_key for p in posts} == {key}
    assert not [r for r in hawzu_env.requests() if r.method == "PATCH"]

    # The pipeline's last job closes it.
    assert cli.main(["execution", "complete", execution["id"]]) == 0
    assert only_execution(hawzu_env)["status"] == "COMPLETED"


STOPS = """
import pytest

@pytest.mark.hawzu("TCM-1")
def test_passes():
    pass

@pytest.mark.hawzu("TCM-2")
def test_fails():
    assert False

@pytest.mark.hawzu("TCM-3")
def test_unreached():
    pass
"""


def test_sessions_join_an_execution_created_beforehand(pytester, hawzu_env, monkeypatch, capsys):
    assert cli.main(["execution", "create", "--release", "1.4.0", "--title", "nightly"]) == 0
    execution_id = capsys.readouterr().out.strip()
    pytester.makepyfile(test_stops=STOPS, test_shard_b=SHARD_B)

    joined = pytester.runpytest(*LEAN, f"--hawzu-execution={execution_id}", "-x", "test_stops.py")
    monkeypatch.setenv("HAWZU_EXECUTION", execution_id)
    also = pytester.runpytest(*LEAN, "-n", "2", "test_shard_b.py")

    execution = only_execution(hawzu_env)
    assert execution["id"] == execution_id
    assert execution["title"] == "nightly"
    assert statuses(execution) == {
        "TCM-1": "PASSED",
        "TCM-2": "FAILED",
        "TCM-3": "PASSED",
        "TCM-4": "FAILED",
        "TCM-5": "PASSED",
    }
    assert execution["status"] == "IN_PROGRESS"
    assert len(creates(hawzu_env)) == 1  # the one `hawzu execution create` made
    for result in (joined, also):
        result.stdout.fnmatch_lines([f"execution {execution_id} (left open): nightly"])


def test_joining_a_completed_execution_says_so(pytester, hawzu_env):
    api = Api(hawzu_env)
    done = api.new_execution()
    api.patch(f"/executions/{done['id']}", json={"status": "COMPLETED"})
    api.close()
    pytester.makepyfile(test_stops=STOPS)

    result = pytester.runpytest(*LEAN, "-p", "no:xdist", f"--hawzu-execution={done['id']}")

    result.stdout.fnmatch_lines([f"*execution {done['id']} is COMPLETED*"])
    assert statuses(only_execution(hawzu_env)) == {}


STOPPED_ALONE = {"TCM-1": "PASSED", "TCM-2": "FAILED", "TCM-3": "NOT_EXECUTED"}
STOPPED_SHARED = {"TCM-1": "PASSED", "TCM-2": "FAILED"}


@pytest.mark.parametrize(
    ("args", "completed", "expected"),
    [
        pytest.param([], True, STOPPED_ALONE, id="own"),
        pytest.param(["--hawzu-no-complete"], False, STOPPED_ALONE, id="own-no-complete"),
        pytest.param(["--hawzu-execution-key=ci-7"], False, STOPPED_SHARED, id="key"),
        pytest.param(
            ["--hawzu-execution-key=ci-7", "--hawzu-complete"],
            True,
            STOPPED_SHARED,
            id="key-complete",
        ),
        pytest.param(["--hawzu-execution={id}"], False, STOPPED_SHARED, id="joined"),
        pytest.param(
            ["--hawzu-execution={id}", "--hawzu-complete"],
            True,
            STOPPED_SHARED,
            id="joined-complete",
        ),
    ],
)
def test_who_completes_and_who_sends_not_executed(pytester, hawzu_env, args, completed, expected):
    if any("{id}" in a for a in args):
        api = Api(hawzu_env)
        execution_id = api.new_execution()["id"]
        api.close()
        args = [a.format(id=execution_id) for a in args]
    pytester.makepyfile(test_stops=STOPS)

    result = pytester.runpytest("--hawzu-release=1.4.0", *LEAN, "-p", "no:xdist", "-x", *args)

    execution = only_execution(hawzu_env)
    assert statuses(execution) == expected
    assert execution["status"] == ("COMPLETED" if completed else "IN_PROGRESS")
    state = "completed" if completed else "left open"
    result.stdout.fnmatch_lines([f"execution {execution['id']} ({state}):*"])


@pytest.mark.parametrize("release", ["1.4.0", "rel_7"])
def test_joining_with_the_executions_own_release_works(pytester, hawzu_env, release):
    api = Api(hawzu_env)
    joined = api.new_execution()
    api.close()
    pytester.makepyfile(test_stops=STOPS)
    pytester.runpytest(
        *LEAN,
        "-p",
        "no:xdist",
        "-x",
        f"--hawzu-release={release}",
        f"--hawzu-execution={joined['id']}",
    )
    assert statuses(only_execution(hawzu_env)) == STOPPED_SHARED


def test_an_execution_from_another_release_is_not_joined(pytester, hawzu_env, monkeypatch):
    # A HAWZU_EXECUTION left over from another job must not send this run's
    # results into a release the command line did not name.
    api = Api(hawzu_env)
    joined = api.new_execution()
    api.close()
    monkeypatch.setenv("HAWZU_EXECUTION", joined["id"])
    pytester.makepyfile(test_stops=STOPS)
    result = pytester.runpytest(*LEAN, "-p", "no:xdist", "--hawzu-release=1.5.0")
    result.stdout.fnmatch_lines(
        [
            f"Hawzu: execution {joined['id']} belongs to release rel_7, not to '1.5.0' "
            "(rel_8): check --hawzu-execution (HAWZU_EXECUTION) and --hawzu-release*"
        ]
    )
    assert statuses(only_execution(hawzu_env)) == {}


def test_a_key_already_used_in_another_release_is_not_followed_there(pytester, hawzu_env):
    # A pipeline ID as the key, reused by a job for the next release: the
    # execution it gives back belongs to the first release.
    hawzu_env.add_release("rel_9", "2.0.0", "proj_101", "IN_PROGRESS")
    pytester.makepyfile(test_stops=STOPS)
    first = pytester.runpytest(
        *LEAN, "-p", "no:xdist", "--hawzu-release=1.4.0", "--hawzu-execution-key=pipeline-7"
    )
    assert first.ret == 1
    result = pytester.runpytest(
        *LEAN, "-p", "no:xdist", "--hawzu-release=2.0.0", "--hawzu-execution-key=pipeline-7"
    )
    result.stdout.fnmatch_lines(
        [
            "Hawzu: the key 'pipeline-7' already made execution * in release rel_7, not in "
            "'2.0.0' (rel_9): *"
        ]
    )
    (execution,) = hawzu_env.executions()
    assert execution["release_id"] == "rel_7"


def test_a_key_whose_execution_was_completed_is_refused_like_joining_it(pytester, hawzu_env):
    # A CI job retried after the pipeline's final step completed the execution.
    pytester.makepyfile(test_stops=STOPS)
    key = ("-p", "no:xdist", "--hawzu-release=1.4.0", "--hawzu-execution-key=pipeline-8")
    pytester.runpytest(*LEAN, *key)
    (first,) = hawzu_env.executions()
    Api(hawzu_env).patch(f"/executions/{first['id']}", json={"status": "COMPLETED"})
    result = pytester.runpytest(*LEAN, *key)
    result.stdout.fnmatch_lines(
        [f"Hawzu: the key 'pipeline-8' names execution {first['id']}, which is COMPLETED*"]
    )
    strict = pytester.runpytest(*LEAN, *key, "--hawzu-strict")
    assert strict.ret == pytest.ExitCode.USAGE_ERROR


def test_the_final_step_completes_the_execution_of_a_release_paused_meanwhile(
    pytester, hawzu_env, monkeypatch, capsys
):
    pytester.makepyfile(test_stops=STOPS)
    pytester.runpytest(
        *LEAN, "-p", "no:xdist", "--hawzu-release=1.4.0", "--hawzu-execution-key=gl-42"
    )
    hawzu_env.set_release_status("rel_7", "PAUSED")
    monkeypatch.setenv("HAWZU_URL", hawzu_env.url)
    capsys.readouterr()  # the session's own output
    assert cli.main(["execution", "create", "--release", "1.4.0", "--key", "gl-42"]) == 0
    (execution,) = hawzu_env.executions()
    assert capsys.readouterr().out.strip() == execution["id"]


def test_a_session_with_a_key_into_a_paused_release_is_refused_at_start_up(pytester, hawzu_env):
    pytester.makepyfile(test_stops=STOPS)
    key = ("-p", "no:xdist", "--hawzu-release=1.4.0", "--hawzu-execution-key=shard-k")
    pytester.runpytest(*LEAN, *key)
    hawzu_env.set_release_status("rel_7", "PAUSED")
    result = pytester.runpytest(*LEAN, *key, "--hawzu-strict")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: Hawzu (--hawzu-strict): release 1.4.0 (rel_7) is PAUSED*"])

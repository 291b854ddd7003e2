"""Shared fixtures: a sandbox Hawzu on loopback, and pytester sessions that report to it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_hawzu.sandbox import Sandbox

TOKEN = "s3cr3t-token-for-tests-only"

# Environment that would change what a session reports: cleared for every test.
HAWZU_VARS = [v for v in os.environ if v.startswith("HAWZU_")]
CI_VARS = ["GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "CIRCLECI", "TF_BUILD", "BUILDKITE"]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(token=TOKEN) as sb:
        yield sb


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [*HAWZU_VARS, *CI_VARS, "PYTEST_ADDOPTS", "PYTEST_XDIST_AUTO_NUM_WORKERS"]:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def hawzu_env(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> Sandbox:
    """Point pytester sessions at the sandbox, with its token in the environment."""
    monkeypatch.setenv("HAWZU_API_TOKEN", sandbox.token)
    monkeypatch.setenv("HAWZU_URL", sandbox.url)
    return sandbox


def only_execution(sandbox: Sandbox) -> dict[str, Any]:
    executions = sandbox.executions()
    assert len(executions) == 1, [e["id"] for e in executions]
    return executions[0]


def statuses(execution: dict[str, Any]) -> dict[str, str]:
    return {case: r["status"] for case, r in execution["results"].items()}


def result_posts(sandbox: Sandbox) -> list[Any]:
    return [r for r in sandbox.requests() if r.method == "POST" and r.path.endswith("/results")]

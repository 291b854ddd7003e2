"""Before the first result: check the token, find the release, open the execution.

Each failure becomes a `StartupError` whose one-line message says which step
failed and what to do about it.
"""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

import pytest

from pytest_hawzu import ci, title
from pytest_hawzu.client import (
    RELEASE_LOCKED,
    ApiError,
    Execution,
    HawzuClient,
    HawzuError,
    Identity,
    Release,
    SetupError,
)
from pytest_hawzu.retry import DEADLINE_REACHED, SETTINGS_REFUSED, GaveUp
from pytest_hawzu.settings import TOKEN_ENV
from pytest_hawzu.text import hide

T = TypeVar("T")


class Call(Protocol):
    """Runs one client call with throttling and retries (a `Retrier.call`)."""

    def __call__(self, fn: Callable[[], T], /) -> T: ...


class StartupError(HawzuError):
    """Reporting cannot start; the message says why and what to do."""

    def __init__(self, message: str, *, may_pass: bool = False) -> None:
        super().__init__(message)
        # Trouble with the network or the server that trying later may get past,
        # rather than an answer (no such release, locked, forbidden).
        self.may_pass = may_pass


# Never quotes the token: the point is that it must not be shown.
UNUSABLE_TOKEN = (
    f"{TOKEN_ENV} holds spaces, line breaks or non-ASCII characters, which no API token has: "
    "copy the token again from Hawzu's web interface"
)


def unusable_token(token: str) -> bool:
    """Whether `token` (already stripped) cannot be sent as a bearer token.

    requests refuses a header with a line break and quotes the value in its
    error; http.client cannot encode non-Latin-1 at all. Hawzu tokens are
    printable ASCII, so anything else is a copy-and-paste accident.
    """
    return not all(33 <= ord(c) <= 126 for c in token)


@dataclass(frozen=True)
class Plan:
    """What the session asked for: where its results go."""

    release: str | None
    project: str | None
    title: str
    description: str = ""
    idempotency_key: str | None = None
    execution: str | None = None


def naming(template: str, release: str, secret: str) -> tuple[str, str]:
    """Title and description of an execution started here and now: a session and
    `hawzu execution create` give the same, from the CI, the host and the versions."""
    found = title.fields(
        ci.detect(os.environ),
        release=release,
        now=datetime.now().astimezone(),
        host=socket.gethostname(),
        python=platform.python_version(),
        pytest_version=pytest.__version__,
    )
    # Hidden before rendering, which cuts to fit: a cut could keep part of the token.
    values = {name: hide(value, secret) for name, value in found.items()}
    return title.render_title(hide(template, secret), values), title.render_description(values)


def open_execution(
    client: HawzuClient, call: Call, plan: Plan, *, to_report: bool = True
) -> Execution:
    """Run every start-up step through `call` (which throttles and retries).

    `to_report`: results will be sent, so a completed execution is refused
    (`hawzu execution create` only names it, for a final step to complete).
    """
    identity = _step("checking the token (GET /me)", call, client.me)
    if plan.execution:
        execution = _join(client, call, plan.execution)
        if plan.release and plan.release != execution.release_id:
            _same_release(client, call, plan, identity, execution)
        return execution
    release = find_release(client, call, plan, identity)
    # With a key Hawzu may answer with the execution the key already made,
    # which a release closed since then still holds: enough for a final step
    # to complete it, not for a session to report into it.
    if not release.accepts_executions and (to_report or not plan.idempotency_key):
        raise StartupError(_locked(release))
    execution = create(client, call, plan, release)
    if to_report and execution.completed:
        raise StartupError(
            f"the key {plan.idempotency_key!r} names execution {execution.id}, which is "
            "COMPLETED and accepts no more results: use a new key (a CI retry: put the "
            "attempt number in it), or reopen the execution in Hawzu"
        )
    return execution


def find_release(client: HawzuClient, call: Call, plan: Plan, me: Identity) -> Release:
    """A release value is tried as an ID first, then as a name."""
    value = plan.release or ""
    try:
        return call(lambda: client.get_release(value))
    except ApiError as exc:
        if exc.status != 404:
            raise _wrap("looking up the release", exc) from None
    except GaveUp as exc:
        raise _wrap("looking up the release", exc) from None
    project = plan.project or _only_project(me, value)
    found = _step(
        "looking up the release by name",
        call,
        lambda: client.find_releases(project, value),
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise StartupError(
            f"release {value!r} not found in project {project} (tried as an ID and as a "
            "name): check --hawzu-release and --hawzu-project"
        )
    raise StartupError(
        f"{len(found)} releases are named {value!r} in project {project} "
        f"({_listed(found, value)}): pass the release ID to --hawzu-release instead"
    )


def _listed(releases: list[Release], name: str, most: int = 10) -> str:
    """The IDs to choose from, with the name where it differs (in case or spaces)."""
    shown = [r.id if r.name == name else f"{r.id} {r.name!r}" for r in releases[:most]]
    more = f", and {len(releases) - most} more" if len(releases) > most else ""
    return ", ".join(shown) + more


def create(client: HawzuClient, call: Call, plan: Plan, release: Release) -> Execution:
    def attempt() -> Execution:
        return client.create_execution(
            release.id,
            plan.title,
            description=plan.description,
            idempotency_key=plan.idempotency_key,
        )

    try:
        execution = call(attempt)
    except ApiError as exc:
        if exc.code == RELEASE_LOCKED:
            raise StartupError(_locked(release)) from None
        raise _wrap("creating the execution", exc) from None
    except GaveUp as exc:
        raise _wrap("creating the execution", exc) from None
    if execution.release_id and execution.release_id != release.id:
        # An idempotency key replayed: the first request with it was for another release.
        raise StartupError(
            f"the key {plan.idempotency_key!r} already made execution {execution.id} in "
            f"release {execution.release_id}, not in {plan.release!r} ({release.id}): use "
            "one key per release, for example with the release in it"
        )
    return execution


def _join(client: HawzuClient, call: Call, execution_id: str) -> Execution:
    try:
        execution = call(lambda: client.get_execution(execution_id))
    except ApiError as exc:
        if exc.status == 404:
            raise StartupError(
                f"execution {execution_id!r} not found: check --hawzu-execution "
                "(HAWZU_EXECUTION) and that the token can see its project"
            ) from None
        raise _wrap("looking up the execution", exc) from None
    except GaveUp as exc:
        raise _wrap("looking up the execution", exc) from None
    if execution.completed:
        raise StartupError(
            f"execution {execution_id} is COMPLETED and accepts no more results: "
            "start a new execution, or reopen it in Hawzu"
        )
    return execution


def _same_release(
    client: HawzuClient, call: Call, plan: Plan, me: Identity, execution: Execution
) -> None:
    """A release named beside the execution must be the execution's own.

    An HAWZU_EXECUTION left over from another job would otherwise take this
    run's results into a release nobody asked for.
    """
    if not execution.release_id:
        raise StartupError(
            f"Hawzu does not say which release execution {execution.id} belongs to, so it "
            f"cannot be checked against {plan.release!r}: leave out --hawzu-release "
            "(HAWZU_RELEASE) to report into it as it is"
        )
    release = find_release(client, call, plan, me)
    if release.id != execution.release_id:
        raise StartupError(
            f"execution {execution.id} belongs to release {execution.release_id}, not to "
            f"{plan.release!r} ({release.id}): check --hawzu-execution (HAWZU_EXECUTION) "
            "and --hawzu-release (HAWZU_RELEASE)"
        )


def _only_project(me: Identity, release: str) -> str:
    if len(me.project_ids) == 1:
        return me.project_ids[0]
    seen = ", ".join(me.project_ids) or "none"
    raise StartupError(
        f"release {release!r} is not a release ID, and finding it by name needs a project: "
        f"set --hawzu-project (HAWZU_PROJECT); the token sees projects: {seen}"
    )


def _locked(release: Release) -> str:
    return (
        f"release {release.name or release.id} ({release.id}) is {release.status}: Hawzu "
        "accepts no new executions or results in it; choose an open release"
    )


def _step(what: str, call: Call, fn: Callable[[], T]) -> T:
    try:
        return call(fn)
    except HawzuError as exc:
        raise _wrap(what, exc) from None


def _wrap(what: str, exc: HawzuError) -> StartupError:
    return StartupError(f"{what} failed: {describe(exc)}", may_pass=may_pass(exc))


def may_pass(exc: HawzuError) -> bool:
    """Whether trying again later may succeed without anyone changing anything."""
    if isinstance(exc, StartupError):
        return exc.may_pass
    return isinstance(exc, GaveUp) and exc.reason != SETTINGS_REFUSED


def describe(exc: HawzuError) -> str:
    """One line about an error, with what to do about it."""
    if isinstance(exc, StartupError):
        return str(exc)  # already names the step and the remedy
    if isinstance(exc, GaveUp) and exc.reason == DEADLINE_REACHED:
        # Time ran out, not the network: the line says which time.
        if exc.last is None:
            return (
                "the end-of-session flush timed out before it was sent (--hawzu-flush-timeout; "
                "--hawzu-rate paces the sending)"
            )
        return f"the end-of-session flush timed out while retrying: {describe(exc.last)}"
    last = exc.last if isinstance(exc, GaveUp) and exc.last is not None else exc
    if isinstance(last, SetupError):
        return str(last)  # says what to change; tried once, as no wait would help
    if isinstance(last, ApiError):
        advice = ADVICE.get(last.status, "")
        text = f"HTTP {last.status} {last.code}: {last.message}"
        if isinstance(exc, GaveUp):
            # Not str(exc): it already ends with this same answer.
            text = f"gave up after {exc.attempts} attempt(s): {exc.reason}; last answer {text}"
        return f"{text}{'; ' + advice if advice else ''}"
    return f"{exc}; check --hawzu-url (HAWZU_URL) and the network"


ADVICE = {
    401: "check HAWZU_API_TOKEN: the token is wrong, expired, disabled or revoked",
    403: "the token's role or scope does not allow this; ask a Hawzu admin",
    404: "check the ID, and that the token can see its project",
    409: "the release or execution is locked in Hawzu",
    422: "Hawzu refused the values; see its message",
    429: "Hawzu's rate limit held; lower --hawzu-rate",
}

"""`hawzu upload`: deliver what journals hold, after an outage or a killed run.

Resending is harmless: Hawzu keeps one result per case and a later write
replaces an earlier one. An execution that was never created is created with
the journal's idempotency key, so it is the one the run would have made.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from pytest_hawzu import attachments, journal
from pytest_hawzu.aggregate import (
    ENDED_BEFORE_IT,
    ENDED_BEFORE_THEM,
    INTERRUPTED_IT,
    Aggregator,
    interrupted_while,
    not_executed,
    not_run,
)
from pytest_hawzu.client import (
    EXECUTION_LOCKED,
    MAX_BATCH,
    RELEASE_LOCKED,
    ApiError,
    BatchOutcome,
    Execution,
    HawzuClient,
    HawzuError,
    in_parts,
)
from pytest_hawzu.failures import internal_error, why
from pytest_hawzu.model import CaseResult, counted
from pytest_hawzu.retry import Retrier, RetryPolicy, telling_sleep
from pytest_hawzu.settings import DEFAULT_NOTES_LIMIT, check_url, shown_url
from pytest_hawzu.startup import Plan, StartupError, describe, may_pass, open_execution
from pytest_hawzu.throttle import Throttle

Say = Callable[[str], None]
PROGRESS_EVERY = 10  # batches between progress lines: 1,000 results


@dataclass
class Outcome:
    rejected: list[str] = field(default_factory=list)
    failed: str | None = None
    # Hawzu refused (locked, forbidden, gone): trying again alone cannot help.
    refused: bool = False
    execution_id: str | None = None


def upload_all(
    paths: list[Path], *, url: str | None, token: str, rate: float, timeout: float, say: Say
) -> bool:
    """Deliver every journal found under `paths`; True when all of them were delivered."""
    unreadable: list[Path] = []

    def refused(path: Path, exc: OSError) -> None:
        say(f"{path}: cannot read: {exc}")
        unreadable.append(path)

    files = journal.find(paths, refused)
    if not files:
        if unreadable:
            return False
        # Only directories get here (a named file counts even when missing): a
        # run that delivered everything removed its journal, so nothing is lost.
        say("no journals in " + ", ".join(str(p) for p in paths) + ": nothing to deliver")
        return True
    # One request budget for the whole command: what the server's headers or a
    # 429 said while one journal was sent still holds for the next.
    throttle = Throttle(rate)
    retrier = Retrier(throttle, RetryPolicy(), sleep=telling_sleep(say))
    ok = not unreadable
    named = set(paths)
    for path in files:
        if path not in named and _vanished(path):
            ok = _gone(path, say) and ok
            continue
        try:
            done = upload_one(path, url=url, token=token, retrier=retrier, timeout=timeout, say=say)
        except Exception as exc:  # a bug must not keep the other journals from Hawzu
            say(f"{path}: {internal_error(exc)}; the journal is kept: please report this")
            done = False
        ok = done and ok
    return ok


def _vanished(path: Path) -> bool:
    """Listed, and not there any more (a link that leads nowhere is still there).

    Only that: a file that cannot be looked at (in a directory without search
    permission) is said when it is opened.
    """
    try:
        path.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False
    return False


def _gone(path: Path, say: Say) -> bool:
    """A journal listed in a directory and gone by its turn; True when that is fine."""
    partial = journal.partial_path(path)
    if partial.exists():
        say(
            f"{path}: renamed {partial.name} by its session after its disk filled: "
            "upload that once the session ends"
        )
        return False
    # Delivered and removed by its run, or by another upload, meanwhile.
    say(f"{path}: gone before its turn (delivered by its run or another upload)")
    return True


def upload_one(
    path: Path, *, url: str | None, token: str, retrier: Retrier, timeout: float, say: Say
) -> bool:
    try:
        special = path.exists() and not path.is_file()
    except OSError as exc:  # in a directory that cannot be searched
        say(f"{path}: cannot read: {exc}")
        return False
    if special:
        # Opening a pipe would wait for a writer forever.
        say(f"{path}: not a journal file (a pipe, a device or a directory)")
        return False
    try:
        held = journal.hold(path)
    except OSError as exc:
        say(f"{path}: cannot read: {exc}")
        return False
    if held is None:
        say(
            f"{path}: in use by a running pytest session, which delivers it itself, or by "
            "another hawzu upload; if that is stuck, stop it and upload again"
        )
        return False
    # Held to the end, so that two uploads of one journal do not both deliver it.
    with held:
        return _upload_held(path, url=url, token=token, retrier=retrier, timeout=timeout, say=say)


def _upload_held(
    path: Path, *, url: str | None, token: str, retrier: Retrier, timeout: float, say: Say
) -> bool:
    try:
        contents = journal.read(path)
    except journal.JournalError as exc:
        say(str(exc))  # names the file already
        return False
    except (OSError, ValueError) as exc:
        say(f"{path}: cannot read: {exc}")
        return False
    target = url or str(contents.header.get("url") or "")
    try:
        # A journal is a plain file that may come from anywhere: hold its URL to
        # the plugin's rules before the token is sent there.
        target = check_url(target)
    except ValueError as exc:
        say(f"{path}: the journal's URL {shown_url(target)!r} is refused: {exc}; pass --url")
        return False
    results = _results(contents)
    if contents.execution_id is None and not results:
        # A run stopped before it had anything to report: as the session
        # itself would, open no empty execution for it.
        lost = "; what did not reach Hawzu is lost" if contents.partial else ""
        _finished(path, say, "no result to report" + lost)
        return not contents.partial
    return _send(
        contents,
        results,
        url=url,
        target=target,
        token=token,
        retrier=retrier,
        timeout=timeout,
        say=say,
    )


def _send(
    contents: journal.Contents,
    results: list[CaseResult],
    *,
    url: str | None,
    target: str,
    token: str,
    retrier: Retrier,
    timeout: float,
    say: Say,
) -> bool:
    path = contents.path
    # Sent to another server than the run's, the recorded execution ID may
    # name somebody else's execution there: it must be in the run's release.
    recorded_url = str(contents.header.get("url") or "").rstrip("/")
    moved = url is not None and url != recorded_url
    unprovable = _unprovable(contents) if moved else None
    if unprovable is not None:
        say(
            f"{path}: not sent to {shown_url(target)}: the journal recorded execution "
            f"{unprovable} but not its release, so nothing shows that {unprovable} there is "
            f"the run's own; the journal is kept: upload it without --url, to "
            f"{shown_url(recorded_url)}"
        )
        return False
    client = HawzuClient(target, token, timeout=timeout, observer=retrier.throttle.observe)
    try:
        outcome = _deliver(contents, results, client, retrier, say, moved=moved)
    finally:
        client.close()
    return _said(contents, outcome, say)


def _said(contents: journal.Contents, outcome: Outcome, say: Say) -> bool:
    """Say how the journal's delivery ended; True when nothing is left to do."""
    path = contents.path
    if outcome.failed is None and contents.partial:
        left_open = (
            f"; execution {outcome.execution_id} is left open, as results of tests after "
            "the journal failed may be missing: check it, and complete it in Hawzu"
        )
        _finished(path, say, "delivered what this partial journal holds", then=left_open)
        return False
    if outcome.failed is None:
        _finished(path, say, "delivered")
        return True
    then = (
        "once that is fixed, run hawzu upload again"
        if outcome.refused
        else "run hawzu upload again"
    )
    say(f"{path}: not delivered: {outcome.failed}; the journal is kept: {then}")
    return False


def _deliver(
    contents: journal.Contents,
    results: list[CaseResult],
    client: HawzuClient,
    retrier: Retrier,
    say: Say,
    *,
    moved: bool,
) -> Outcome:
    header = contents.header
    outcome = Outcome()
    refused: set[str] = set()
    execution_id = contents.execution_id
    try:
        if execution_id and moved:
            _rejoin(contents, client, retrier, execution_id)
        execution_id = execution_id or _open(contents, client, retrier).id
        if contents.delivered:
            say(f"{contents.path}: every result is in execution {execution_id} already")
        else:
            _post(contents, results, execution_id, client, retrier, outcome, refused, say)
            send = partial(_send_attachment, client, retrier, execution_id)
            _attach(contents, send, refused, say)
        outcome.execution_id = execution_id
        if header.get("complete") and not contents.partial:
            retrier.call(lambda: client.complete_execution(execution_id))
            say(f"  execution {execution_id} completed")
    except ApiError as exc:
        outcome.failed = _locked(execution_id) if exc.code == EXECUTION_LOCKED else describe(exc)
        outcome.refused = True
    except HawzuError as exc:
        outcome.failed = describe(exc)
        outcome.refused = not may_pass(exc)
    for line in outcome.rejected:
        say(f"  rejected {line}")
    return outcome


def _post(
    contents: journal.Contents,
    results: list[CaseResult],
    execution_id: str,
    client: HawzuClient,
    retrier: Retrier,
    outcome: Outcome,
    refused: set[str],
    say: Say,
) -> None:
    say(f"{contents.path}: {counted(len(results), 'result')} for execution {execution_id}")
    batch_size = int(contents.header.get("batch_size") or MAX_BATCH)
    batches = range(0, len(results), batch_size)
    for number, start in enumerate(batches, start=1):
        batch = results[start : start + batch_size]
        sent: list[tuple[Sequence[CaseResult], BatchOutcome]] = []
        try:
            in_parts(
                lambda part: retrier.call(partial(client.post_results, execution_id, part)),
                batch,
                sent,
            )
        finally:  # what parts answered before a later one failed said still counts
            for _, answer in sent:
                outcome.rejected += [f"{r.case_id}: {r.code} {r.message}" for r in answer.rejected]
                refused.update(r.case_id for r in answer.rejected)
        if number % PROGRESS_EVERY == 0 or number == len(batches):
            say(f"  {min(start + batch_size, len(results))}/{len(results)} sent")
    if withheld := _withheld(contents):
        # Their attachments still go: the run may have delivered the result.
        say(
            "  not sent, as the journal holds only some of their tests: "
            f"{', '.join(withheld)}; if Hawzu has no result for one, record it there"
        )


def _locked(execution_id: str | None) -> str:
    return (
        f"execution {execution_id} is COMPLETED and accepts no more results: if its results "
        "are already there, delete the journal; if not, reopen the execution in Hawzu"
    )


def _attach(
    contents: journal.Contents,
    send: Callable[[str, attachments.Attachment, Say], None],
    refused: set[str],
    say: Say,
) -> None:
    """Send the attachments the run could not; each is noted in the journal once done."""
    for attachment in contents.attachments:
        located = _located(contents, attachment)
        for case_id in attachment.case_ids:
            if (attachment.path, case_id) in contents.attachments_done:
                continue
            if case_id not in refused:  # no result, so Hawzu would refuse it too
                send(case_id, located, say)
            _note(contents.path, journal.attachment_done(attachment, case_id), say)
        if _own_copy(contents, located):
            _remove(Path(located.path), say)


def _located(
    contents: journal.Contents, attachment: attachments.Attachment
) -> attachments.Attachment:
    """The plugin's copy where it is now: a kept spool directory may have moved
    (a CI artifact uploaded by a later job), and the journal names absolute paths."""
    recorded = Path(attachment.path)
    if recorded.exists() or recorded.parent.name != attachments.SUBDIR:
        return attachment
    here = contents.path.parent / attachments.SUBDIR / recorded.name
    return replace(attachment, path=str(here)) if here.exists() else attachment


def _own_copy(contents: journal.Contents, attachment: attachments.Attachment) -> bool:
    """Whether the file is the plugin's copy beside the journal, not one of the user's.

    A journal is a plain file: the path it names must not decide what is deleted.
    """
    own = (contents.path.parent / attachments.SUBDIR).resolve()
    return own in Path(attachment.path).resolve().parents


def _note(path: Path, record: dict[str, Any], say: Say) -> None:
    """Note in the journal what need not be sent again; at worst it is sent twice."""
    try:
        journal.append(path, record)
    except OSError as exc:
        say(f"  could not note in {path} what was sent ({why(exc)})")


def _remove(path: Path, say: Say) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        say(f"  could not remove {path} ({why(exc)})")


def _finished(path: Path, say: Say, what: str, *, then: str = "") -> None:
    """Remove a journal that has nothing left to deliver, and say so truly."""
    try:
        # The file itself when named through a link: a link alone gone would
        # leave the journal for the next upload to deliver again.
        path.resolve().unlink(missing_ok=True)
        if path.is_symlink():
            path.unlink()
    except OSError as exc:
        say(f"{path}: {what}; the journal could not be removed ({why(exc)}): delete it{then}")
        return
    say(f"{path}: {what}, journal removed{then}")


def _send_attachment(
    client: HawzuClient,
    retrier: Retrier,
    execution_id: str,
    case_id: str,
    attachment: attachments.Attachment,
    say: Say,
) -> None:
    """Send one; a refusal or a missing file is final, other failures end the upload."""
    what = f"attachment {attachment.name} of {case_id}"
    try:
        retrier.call(partial(attachments.send, client, execution_id, case_id, attachment))
    except FileNotFoundError:
        say(f"  {what} not sent: its file is gone")
    except OSError as exc:
        say(f"  {what} not sent: its file cannot be read ({why(exc)})")
    except ApiError as exc:
        if exc.status == 401 or exc.code in (EXECUTION_LOCKED, RELEASE_LOCKED):
            raise
        say(f"  {what} not taken: {describe(exc)}")
    else:
        say(f"  {what} sent")


def _unprovable(contents: journal.Contents) -> str | None:
    """The execution the journal would join, when nothing in it can tell that
    execution from another with the same ID: a run given only --hawzu-execution
    records no release, and older journals did not record the execution's."""
    execution = contents.execution_id or contents.header.get("execution")
    if execution and not contents.header.get("release") and not contents.release_id:
        return str(execution)
    return None


def _rejoin(
    contents: journal.Contents, client: HawzuClient, retrier: Retrier, execution_id: str
) -> None:
    """Check, on another server than the run's, that the recorded execution is the run's."""
    joined = _open(contents, client, retrier, execution=execution_id)
    if contents.release_id and not joined.release_id:
        raise StartupError(
            f"Hawzu does not say which release execution {execution_id} belongs to, so it "
            f"cannot be checked against the run's ({contents.release_id}): upload without --url"
        )
    if contents.release_id and joined.release_id != contents.release_id:
        raise StartupError(
            f"execution {execution_id} belongs to release {joined.release_id}, not to the "
            f"run's ({contents.release_id}): check --url, or upload without it"
        )


def _open(
    contents: journal.Contents,
    client: HawzuClient,
    retrier: Retrier,
    execution: str | None = None,
) -> Execution:
    """The journal's execution: created as the run would have, or `execution` joined."""
    header = contents.header
    plan = Plan(
        release=header.get("release"),
        project=header.get("project"),
        title=str(header.get("title") or "pytest"),
        description=str(header.get("description") or ""),
        idempotency_key=header.get("idempotency_key"),
        execution=execution or header.get("execution"),
    )
    return open_execution(client, retrier.call, plan)


def _results(contents: journal.Contents) -> list[CaseResult]:
    notes_limit = int(contents.header.get("notes_limit") or DEFAULT_NOTES_LIMIT)
    aggregator = Aggregator(notes_limit)
    for test in contents.outcomes:
        aggregator.add(test)
    left = _unfinished(contents)
    if contents.partial:
        # A test missing from it may well have run: nothing is inferred from
        # its absence (see _withheld).
        return [aggregator.result(c) for c in aggregator.case_ids() if c not in left]
    if contents.header.get("shared"):
        # The other tests of the execution are other runs': none is not executed.
        return [aggregator.result(case_id) for case_id in aggregator.case_ids()]
    unreached: list[CaseResult] = []
    # As the run would have sent them: a case none of whose tests finished
    # is not executed, and so is one that only some of its tests finished.
    for case_id, nodeids in left.items():
        running = [n for n in nodeids if n in contents.interrupted]
        if case_id not in aggregator:
            reason = interrupted_while(running) if running else ENDED_BEFORE_THEM
            unreached.append(not_executed(case_id, tuple(nodeids), reason))
            continue
        for nodeid in nodeids:
            reason = INTERRUPTED_IT if nodeid in running else ENDED_BEFORE_IT
            aggregator.add(not_run(nodeid, case_id, reason))
    return [aggregator.result(case_id) for case_id in aggregator.case_ids()] + unreached


def _unfinished(contents: journal.Contents) -> dict[str, list[str]]:
    """The scope's tests that have no line in the journal, by case.

    Counted: --keep-duplicates selects a test once per copy, all under one node
    ID, and each copy needs a line of its own.
    """
    finished = Counter(test.nodeid for test in contents.outcomes)
    left: dict[str, list[str]] = {}
    for case_id, nodeids in contents.scope.items():
        missing = _missing(nodeids, finished, contents.dropped)
        if missing:
            left[case_id] = missing
    return left


def _missing(nodeids: list[str], finished: Counter[str], dropped: set[str]) -> list[str]:
    """The copies of a case's selected tests that have no line."""
    copies: Counter[str] = Counter()
    missing: list[str] = []
    for nodeid in nodeids:
        copies[nodeid] += 1
        if copies[nodeid] > finished[nodeid] and nodeid not in dropped:
            missing.append(nodeid)
    return missing


def _withheld(contents: journal.Contents) -> list[str]:
    """Cases a partial journal holds only some tests of: their result from those
    alone could be wrong (PASSED for a case whose missing test failed), and would
    replace the right one should the run have delivered it."""
    if not contents.partial:
        return []
    held = {case_id for test in contents.outcomes for case_id in test.case_ids}
    return [case_id for case_id in _unfinished(contents) if case_id in held]

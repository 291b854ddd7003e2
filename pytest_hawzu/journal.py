"""The write-ahead journal: every finished test, on disk before it is queued for sending.

One JSON object per line. The first line says where the results belong (URL,
release, title, idempotency key; never the token); later lines add the
execution and its release once they are known, each finished test, the
planned scope, the tests a hook dropped, those running at a Ctrl-C and the end.
Each line is handed to the OS as soon as it is written, so a `kill -9` of
pytest loses nothing that pytest had finished. A torn last line is ignored
when reading; an unreadable line anywhere else is damage, and stops the
journal. `hawzu upload` delivers what a journal holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pytest_hawzu.attachments import Attachment
from pytest_hawzu.client import MAX_BATCH, MAX_NOTES
from pytest_hawzu.failures import why
from pytest_hawzu.forks import InChild
from pytest_hawzu.model import TestOutcome
from pytest_hawzu.text import hide, hiding

if sys.platform != "win32":
    import fcntl

VERSION = 1
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
# Bound once: a user's test that patches os.write for itself must neither see
# the journal's writes nor break the journal for the rest of the run.
_WRITE = os.write
SUFFIX = ".jsonl"
# A journal that stopped being written: it lacks the tests that finished after.
PARTIAL = ".partial" + SUFFIX


class Journal:
    """Appends records to one journal file; removes it once everything was delivered."""

    def __init__(self, path: Path, stream: IO[bytes], secret: str = "") -> None:
        self.path = path
        self._stream = stream
        # The token, should a test show it (in a node ID, say): hidden as it is
        # in JSON, escapes and all.
        self._secret = _ENCODE(hiding(secret))[1:-1] if hiding(secret) else ""
        # The sender thread writes too (attachments it settled).
        self._lock = threading.Lock()
        # A test that forks and carries on runs a copy of the session: its
        # records are not this session's.
        self._pid = os.getpid()
        # Why writing stopped (a full disk): the run goes on without the
        # journal, and the reporter says so.
        self.failure: str | None = None
        # Deleted during the run and not written again: nothing is kept.
        self.lost = False
        # Deleted during the run and written out again at its end.
        self.restored = False
        # The attachment copies it names (see `names`).
        self._named: set[str] = set()
        _open.add(self)

    @classmethod
    def create(cls, spool_dir: Path, header: Mapping[str, Any], secret: str = "") -> Journal:
        spool_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = spool_dir / f"run-{stamp}-{os.getpid()}-{secrets.token_hex(3)}{SUFFIX}"
        # Locked under a name `hawzu upload` does not list, then named: an upload
        # must never find the file before its session holds it. Readable too:
        # should the file be deleted during the run, what it held can still be
        # written out again (see `close`).
        unlisted = path.with_name(f".{path.name}.new")
        stream = unlisted.open("x+b", buffering=0)
        lock(stream)  # nobody else knows the name: the lock is the session's
        journal = cls(path, stream, secret)
        try:
            # Without its first line no upload could ever read it: no journal then.
            if not journal.write({"type": "session", "version": VERSION, **header}):
                raise OSError(f"its first line could not be written: {journal.failure}")
            unlisted.rename(path)
        except OSError:
            stream.close()
            unlisted.unlink(missing_ok=True)
            raise
        return journal

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def _let_go(self) -> None:
        """In a forked child: close the copy of the file, which holds the lock too."""
        self._lock = threading.Lock()  # another thread of the parent may have held it
        with contextlib.suppress(OSError):
            self._stream.close()

    @property
    def foreign(self) -> bool:
        """In a forked copy of the session: the file is the parent's, not ours to name."""
        return os.getpid() != self._pid

    def write(self, record: Mapping[str, Any]) -> bool:
        """Whether the record is in the file."""
        # One write(2) per record, straight to the OS: nothing waits in a Python
        # buffer for a kill -9 to lose, and no flush call on top.
        line = (hide(_ENCODE(record), self._secret) + "\n").encode()
        with self._lock:
            if self._stream.closed or self.failure is not None or self.foreign:
                # A sender thread that outlived the session's end, a full disk,
                # or a forked copy of the session.
                return False
            try:
                written = _WRITE(self._stream.fileno(), line)
            except OSError as exc:
                self._stop(why(exc))
                return False
            if written < len(line):
                # Only the end of the file may be torn: write nothing after it.
                self._stop("the file system took only part of a record")
                return False
        return True

    def _stop(self, failure: str) -> None:
        self.failure = failure
        # Marked at once, should the run be killed later; `close` says if it failed.
        self._mark_partial()

    def test(self, outcome: TestOutcome) -> None:
        self.write({"type": "test", **outcome.to_json()})

    def attachment(self, attachment: Attachment) -> None:
        """An attachment file to send once its cases' results are in."""
        if self.write({"type": "attachment", **attachment.to_json()}):
            self._named.add(attachment.path)

    def names(self, path: str) -> bool:
        """The journal holds the attachment copy at `path`, for `hawzu upload`."""
        return path in self._named

    def attachment_done(self, attachment: Attachment, case_id: str) -> None:
        self.write(attachment_done(attachment, case_id))

    def execution(self, execution_id: str, web_url: str, release_id: str = "") -> None:
        record = {"type": "execution", "id": execution_id, "web_url": web_url}
        if release_id:
            # What proves, should the upload go to another URL, that the
            # execution there with this ID is the run's own.
            record["release_id"] = release_id
        self.write(record)

    def scope(self, cases: Mapping[str, Sequence[str]]) -> None:
        self.write({"type": "scope", "cases": cases})

    def interrupted(self, nodeids: Sequence[str]) -> None:
        """The tests that were running when the run was interrupted (Ctrl-C)."""
        self.write({"type": "interrupted", "nodeids": nodeids})

    def delivered(self) -> None:
        """Every result reached Hawzu: only completing the execution may be left."""
        self.write({"type": "delivered"})

    def dropped(self, nodeid: str) -> None:
        """A hook dropped the test or moved it to other cases: its own expect nothing."""
        self.write({"type": "dropped", "nodeid": nodeid})

    def close(self, *, delivered: bool) -> str | None:
        """End the journal: removed when `delivered`, else kept where it says.

        Returns a line for the user when either went wrong; `self.lost` says
        whether the journal is gone.
        """
        if self._stream.closed:
            return None
        if self.foreign:
            self._stream.close()
            return None
        self.write({"type": "end", "delivered": delivered})
        note = None if delivered else self._restore()
        if not delivered and self.failure is not None and not self.lost:
            # Again, should that have failed or the file been written out again;
            # while its lock is held, so that no upload takes it for a whole one.
            note = self._mark_partial() or note
        if note is None and self.restored:  # named as it is now, partial or not
            note = f"the journal was deleted during the run; written again to {self.path}"
        with self._lock:
            self._stream.close()
        if delivered:
            try:
                self.path.unlink(missing_ok=True)
            except OSError as exc:
                return (
                    f"every result was delivered, but the journal {self.path} could not be "
                    f"removed ({why(exc)}): delete it"
                )
        return note

    def _mark_partial(self) -> str | None:
        """Name the journal partial, so that `hawzu upload` takes no test missing from
        it for one that never ran. Marking it inside would need the space that ran
        out; a rename needs none."""
        if self.path.name.endswith(PARTIAL):
            return None
        partial = partial_path(self.path)
        try:
            self.path.rename(partial)
        except OSError as exc:
            return (
                f"the journal {self.path} is incomplete and could not be renamed ({why(exc)}): "
                f"rename it to {partial.name} before hawzu upload, or tests missing from it "
                "are recorded as not executed"
            )
        self.path = partial
        return None

    def _restore(self) -> str | None:
        """Write the journal out again if something deleted it during the run (a
        clean-up step, a spool directory inside --basetemp): it must be kept."""
        fd = self._stream.fileno()
        if os.fstat(fd).st_nlink > 0:
            return None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("xb") as out:
                offset = 0
                while chunk := os.pread(fd, 1 << 20, offset):
                    out.write(chunk)
                    offset += len(chunk)
        except OSError as exc:
            self.lost = True
            return (
                f"the journal {self.path} was deleted during the run and could not be "
                f"written again ({why(exc)}): what was not delivered is lost"
            )
        self.restored = True  # said by `close`, once the name is final
        return None


@dataclass
class Contents:
    """What one journal file holds."""

    path: Path
    header: dict[str, Any]
    execution_id: str | None = None
    web_url: str = ""
    # The execution's release, as Hawzu said when the run opened it; None in
    # journals written before it was recorded.
    release_id: str | None = None
    outcomes: list[TestOutcome] = field(default_factory=list)
    scope: dict[str, list[str]] = field(default_factory=dict)
    # Tests a `pytest_hawzu_result` hook dropped or moved away from their cases.
    dropped: set[str] = field(default_factory=set)
    # Tests that were running when the run was interrupted (Ctrl-C).
    interrupted: set[str] = field(default_factory=set)
    # Every result reached the execution; the run may have died completing it.
    delivered: bool = False
    # Writing stopped before the run ended, and results may be missing from it.
    partial: bool = False
    ended: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    # (path, case ID) of attachments already sent or refused for good.
    attachments_done: set[tuple[str, str]] = field(default_factory=set)


class JournalError(Exception):
    """A file that is not a pytest-hawzu journal."""


# The session line's fields that `hawzu upload` uses, and the types they must
# have: a journal is a plain file that may have been damaged or written by
# hand, and a wrong type must stop its upload, not be guessed at.
_TEXT = (str, type(None))
HEADER_TYPES: dict[str, tuple[type, ...]] = {
    "url": _TEXT,
    "release": _TEXT,
    "project": _TEXT,
    "title": _TEXT,
    "description": _TEXT,
    "idempotency_key": _TEXT,
    "execution": _TEXT,
    "shared": (bool,),
    "complete": (bool,),
    "batch_size": (int,),
    "notes_limit": (int,),
}
# What `hawzu upload` adds to a kept journal (see `append`): these may follow
# the line a killed run tore, and leave it the run's last.
APPENDED = frozenset({"attachment_done"})


def read(path: Path) -> Contents:
    """The journal's contents, read a line at a time: a run of 100,000 tests
    must not sit in memory as text and as parsed records besides."""
    contents: Contents | None = None
    torn: int | None = None  # the first unreadable line's number
    # utf-8-sig: an editor on Windows may have saved it with a byte order mark.
    with path.open(encoding="utf-8-sig") as stream:
        for number, line in enumerate(stream, start=1):
            record = _parse(line)
            if record is None:
                if torn is None and line.strip():  # a blank line holds nothing
                    torn = number
                continue
            if torn is not None and record.get("type") not in APPENDED:
                # A kill -9 tears only the end: a record after it means
                # damage, and skipping the line would misreport its case.
                raise JournalError(_damaged(path, torn))
            if contents is None:
                contents = _first(path, record)
            else:
                _take(contents, record)
    if contents is None:
        raise JournalError(f"{path}: not a pytest-hawzu journal (no session line)")
    # Once every result reached Hawzu, what came after the failure does not matter.
    contents.partial = is_partial(path) and not contents.delivered
    return contents


def _damaged(path: Path, number: int) -> str:
    return (
        f"{path}: line {number} is damaged (not a JSON object) and more records follow it; "
        f"nothing was sent and the journal is kept: repair line {number}, or delete it and "
        "lose what it held, then run hawzu upload again"
    )


def partial_path(path: Path) -> Path:
    """Where a journal is once named partial."""
    return path.with_name(path.name.removesuffix(SUFFIX) + PARTIAL)


def is_partial(path: Path) -> bool:
    """Named as a journal that stopped being written, itself or the file a link names."""
    return path.name.endswith(PARTIAL) or _real(path).name.endswith(PARTIAL)


def _first(path: Path, record: dict[str, Any]) -> Contents:
    if record.get("type") != "session":
        raise JournalError(f"{path}: not a pytest-hawzu journal (no session line)")
    return Contents(path=path, header=_header(path, record))


def _take(contents: Contents, record: dict[str, Any]) -> None:
    kind = record.get("type")
    try:
        _apply(contents, record)
    except (KeyError, TypeError, ValueError) as exc:
        # A torn last line is skipped above; a whole line that is damaged is not
        # ours to guess at: say which, rather than crash or drop a result.
        raise JournalError(
            f"{contents.path}: a damaged {kind!r} record ({type(exc).__name__}: {exc})"
        ) from None


def _header(path: Path, header: dict[str, Any]) -> dict[str, Any]:
    version = header.get("version")
    if isinstance(version, int) and version > VERSION:
        raise JournalError(
            f"{path}: written by a newer pytest-hawzu (journal version {version}): "
            "upgrade pytest-hawzu to deliver it"
        )
    for name, types in HEADER_TYPES.items():
        if name not in header:
            continue
        value = header[name]
        # bool is an int to Python: a count that is true or false is damage.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise JournalError(f"{path}: a damaged session line ({name} = {value!r})")
    for name, low, high in (("batch_size", 1, MAX_BATCH), ("notes_limit", 200, MAX_NOTES)):
        value = header.get(name, low)
        if not low <= value <= high:
            raise JournalError(f"{path}: a damaged session line ({name} = {value!r})")
    return header


def _apply(contents: Contents, record: dict[str, Any]) -> None:
    kind = record.pop("type", None)
    if kind == "execution":
        contents.execution_id = _text(record["id"], "id")
        contents.web_url = str(record.get("web_url", ""))
        # Each execution record replaces the last: a release of another one must not stay.
        release_id = record.get("release_id")
        contents.release_id = None if release_id is None else _text(release_id, "release_id")
    elif kind == "test":
        contents.outcomes.append(TestOutcome.from_json(record))
    elif kind == "scope":
        # Scope comes in chunks; one case's tests may span two of them.
        cases = record.get("cases", {})
        if not isinstance(cases, dict) or not all(isinstance(n, list) for n in cases.values()):
            raise TypeError("cases must map case IDs to lists of node IDs")
        for case_id, nodeids in cases.items():
            contents.scope.setdefault(str(case_id), []).extend(str(n) for n in nodeids)
    elif kind == "delivered":
        contents.delivered = True
    elif kind == "dropped":
        contents.dropped.add(_text(record["nodeid"], "nodeid"))
    elif kind == "interrupted":
        nodeids = record["nodeids"]
        if not isinstance(nodeids, list):
            raise TypeError(f"nodeids must be a list, got {nodeids!r}")
        contents.interrupted.update(_text(n, "nodeid") for n in nodeids)
    elif kind == "end":
        contents.ended = True
    elif kind == "attachment":
        contents.attachments.append(Attachment.from_json(record))
    elif kind == "attachment_done":
        contents.attachments_done.add((str(record["path"]), str(record["case"])))


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _parse(line: str) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None  # a line torn by a killed process, or garbage
    return record if isinstance(record, dict) else None


def attachment_done(attachment: Attachment, case_id: str) -> dict[str, Any]:
    """Sent to `case_id` (or refused for good): `hawzu upload` must not send it again."""
    return {"type": "attachment_done", "path": attachment.path, "case": case_id}


def append(path: Path, record: Mapping[str, Any]) -> None:
    """Add one record to a kept journal (`hawzu upload` noting what it sent)."""
    with path.open("ab") as stream:
        # After a torn last line, start a fresh one rather than extend it.
        torn = stream.tell() > 0 and _last_byte(path) != b"\n"
        line = json.dumps(record, separators=(",", ":")) + "\n"
        stream.write((("\n" if torn else "") + line).encode())


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as stream:
        stream.seek(-1, os.SEEK_END)
        return stream.read(1)


def lock(stream: IO[bytes]) -> bool:
    """Take the journal's lock through `stream`; False if another open file holds it.

    A session holds its journal's lock until it ends, and the kernel lets go of
    it when the process dies, even by kill -9: so `hawzu upload` can tell the
    journal of a live run, which it must leave alone, from a kept one. Where
    there is no such lock (Windows, some network file systems) every journal
    counts as kept.
    """
    if sys.platform == "win32":
        return True
    try:
        fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return True


def hold(path: Path) -> IO[bytes] | None:
    """The journal opened and locked for `hawzu upload`; None while a session holds it."""
    stream = path.open("rb")
    if lock(stream):
        return stream
    stream.close()
    return None


def find(
    paths: Iterable[Path], unreadable: Callable[[Path, OSError], None] | None = None
) -> list[Path]:
    """Journal files named directly, or found in the named directories, each once.

    A path that cannot be looked at (a directory that cannot be listed, a file
    in one that cannot be searched) is handed to `unreadable` and left out, so
    that it keeps no other journal from Hawzu; without `unreadable`, OSError.
    Path.glob would take such a directory for an empty one, and "nothing to
    deliver" would be a lie.
    """
    found: dict[Path, Path] = {}  # by where it really is: a file named twice, or by a link
    for path in paths:
        try:
            listed = _listed(path) if path.is_dir() else [path]
        except OSError as exc:
            if unreadable is None:
                raise
            unreadable(path, exc)
            continue
        for each in listed:
            found.setdefault(_real(each), each)
    return list(found.values())


def _real(path: Path) -> Path:
    """Where the file really is; a loop of links stays as named, and fails on its own
    when it is opened, without keeping the other journals from being delivered."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # how Python before 3.13 says "a loop of links"
        return path.absolute()


def _listed(directory: Path) -> list[Path]:
    with os.scandir(directory) as entries:
        names = sorted(e.name for e in entries if e.name.endswith(SUFFIX))
    return [directory / name for name in names]


# Journals open in this process. A process forked from it (a test's server,
# started by multiprocessing or os.fork, and left running or orphaned by a
# kill -9) would hold their locks with its copy of the file, and `hawzu
# upload` would take a kept journal for a live session's: it closes its copy.
_open = InChild(Journal._let_go)

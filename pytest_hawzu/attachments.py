"""Attachments: files and captured output that go with a case's result.

Where tests run (an xdist worker, or the only process), `Attacher` writes each
attachment's bytes to a file under the spool directory and keeps a small
`{"name", "path", "size"}` entry on the item; the tagger moves the entries onto
the phase report. Bytes travel as files, never inside reports, because:

- xdist serialises every report to the controller over one channel; megabytes
  of base64 there would slow every test behind it, and a report is kept in
  memory by other plugins (junitxml, the terminal's failure list);
- a file in the spool directory outlives a crashed or killed controller, next
  to the journal that names it, so `hawzu upload` can still deliver it.

The cost is that workers must share the controller's disk, which is true for
`-n` workers; with remote `--tx` workers the files are missing on the
controller, and each is reported as not attached.

On the controller, `Inbox` holds a test's entries until its outcome is
recorded; the uploader sends them once the batch with that case's result was
accepted. Nothing here talks to Hawzu except `send`, which the sender thread
and `hawzu upload` call.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import uuid
import warnings
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import pytest

from pytest_hawzu import cases
from pytest_hawzu.client import MAX_ATTACHMENT_BYTES, HawzuClient
from pytest_hawzu.failures import why
from pytest_hawzu.forks import InChild
from pytest_hawzu.model import counted
from pytest_hawzu.text import HIDDEN, as_bytes, hide, hiding, valid

ATTACHER = pytest.StashKey["Attacher"]()
SUBDIR = "attachments"
_PENDING = pytest.StashKey[list[dict[str, Any]]]()
_FAILED = pytest.StashKey[bool]()
# The files of an attempt's teardown report, until the test is set up again.
_TORN_DOWN = pytest.StashKey[list[dict[str, Any]]]()
_UNSAFE = re.compile(r"[^A-Za-z0-9._\-\[\]]+")
# Captured output of a test, by attachment suffix and report section prefix.
CAPTURED = (("stdout", "Captured stdout"), ("stderr", "Captured stderr"), ("log", "Captured log"))

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


class HawzuAttachWarning(UserWarning):
    """`hawzu_attach` called for a test that has ended: the file is not sent."""


class Attacher:
    """Where tests run: files attachments in the spool directory for the controller."""

    def __init__(self, spool_dir: Path, mode: str, secret: str = "") -> None:
        self.dir = spool_dir.absolute() / SUBDIR
        self.mode = mode
        # The token, should a test print it: captured output is kept and sent.
        self.secret = hiding(secret)
        # As the bytes a test would print: a token given with a byte that is not
        # UTF-8 holds a lone surrogate, which plain UTF-8 cannot encode.
        self.secret_bytes = as_bytes(self.secret)
        # A process a test forks, and that carries on with the session, is not
        # the session: nothing would send or remove the copies it made. Set
        # by an at-fork hook rather than read from os.getpid() per report.
        self.copy = False
        _attachers.add(self)

    def forked(self) -> bool:
        return self.copy

    def attach(self, item: pytest.Item, source: Source, name: str | None = None) -> None:
        """Attach a file (a path) or bytes to the item's cases; a no-op without cases."""
        if not cases.case_ids(item) or self.forked():
            return
        # Names and messages valid text: execnet refuses a lone surrogate (a
        # name that is not UTF-8), and so may Hawzu.
        name = hide(valid(str(name)), self.secret) if name else None
        if isinstance(source, (bytes, bytearray, memoryview)):
            entry = self._write_bytes(bytes(source), name or "attachment.bin")
        else:
            entry = self._copy(Path(source), name)
        item.stash.setdefault(_PENDING, []).append(entry)

    def warn_ended(self, item: pytest.Item, source: Source, name: str | None) -> None:
        """Said where the user's code attached too late (stacklevel: the fixture's caller)."""
        shown = name or (str(source) if isinstance(source, (str, os.PathLike)) else "bytes")
        text = f"hawzu_attach of {item.nodeid} after that test ended: {shown} not sent"
        warnings.warn(hide(valid(text), self.secret), HawzuAttachWarning, stacklevel=3)

    def collect(self, item: pytest.Item, report: pytest.TestReport) -> list[dict[str, Any]]:
        """The entries to put on this phase report, adding captured output when due."""
        if self.forked():
            return []
        if report.when == "setup" and _TORN_DOWN in item.stash:
            _forget_void_attempt(item)
        if self.mode != "none":
            self._captured(item, report)
        if _PENDING not in item.stash:
            return []
        pending = item.stash[_PENDING]
        del item.stash[_PENDING]
        if report.when == "teardown":
            item.stash[_TORN_DOWN] = pending
        return pending

    def _captured(self, item: pytest.Item, report: pytest.TestReport) -> None:
        # Only flags until teardown: reading captured output costs nothing before then.
        if report.when == "setup" and _FAILED in item.stash:
            del item.stash[_FAILED]  # a new attempt (reruns) starts clean
        if report.failed:
            item.stash[_FAILED] = True  # only failures pay for a stash entry
        if report.when != "teardown":
            return
        if self.mode == "all" or _FAILED in item.stash:
            # The teardown report holds the sections of all three phases.
            pending = item.stash.setdefault(_PENDING, [])
            for suffix, prefix in CAPTURED:
                text = "".join(content for _, content in report.get_sections(prefix))
                if text:
                    name = hide(valid(f"{item.name}-{suffix}.txt"), self.secret)
                    data = as_bytes(text)
                    if self.secret_bytes:
                        data = data.replace(self.secret_bytes, HIDDEN.encode())
                    pending.append(self._write_bytes(data, name))

    def _write_bytes(self, data: bytes, name: str) -> dict[str, Any]:
        if len(data) > MAX_ATTACHMENT_BYTES:
            return too_large(name, len(data))
        try:
            path = self._new_path(name)
            path.write_bytes(data)
        except OSError as exc:
            return self._unkept(name, exc)
        return {"name": name, "path": str(path), "size": len(data)}

    def _copy(self, source: Path, name: str | None) -> dict[str, Any]:
        # A copy, because the test's file may be gone (tmp_path) or changed by
        # the time the sender thread reads it.
        name = name or hide(valid(source.name), self.secret)
        try:
            size = source.stat().st_size
        except OSError as exc:
            return {"name": name, "error": valid(f"could not be read: {exc}")}
        if size > MAX_ATTACHMENT_BYTES:
            return too_large(valid(f"{name} ({source})"), size)
        try:
            path = self._new_path(name)
            shutil.copyfile(source, path)
        except OSError as exc:
            # The user's file, or the spool directory that would hold the copy.
            if exc.filename == str(source):
                return {"name": name, "error": valid(f"could not be read: {exc}")}
            return self._unkept(name, exc)
        return {"name": name, "path": str(path), "size": size}

    def _unkept(self, name: str, exc: OSError) -> dict[str, Any]:
        # The same for every attachment the spool refuses alike, so it is said once.
        error = valid(f"could not be kept in {self.dir} ({why(exc)})")
        return {"name": name, "error": error, "spool": True}

    def _new_path(self, name: str) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        return self.dir / f"{uuid.uuid4().hex[:16]}-{_UNSAFE.sub('_', name)[-80:]}"


def too_large(name: str, size: int) -> dict[str, Any]:
    mib = MAX_ATTACHMENT_BYTES // (1024 * 1024)
    return {
        "name": name,
        "error": f"is {size / 1024 / 1024:.1f} MiB, over Hawzu's {mib} MiB limit",
    }


@dataclass(frozen=True)
class Attachment:
    """On the controller: one attachment file for the cases of one test."""

    path: str
    name: str
    size: int
    case_ids: tuple[str, ...]
    nodeid: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "name": self.name,
            "size": self.size,
            "cases": list(self.case_ids),
            "nodeid": self.nodeid,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attachment:
        return cls(
            path=str(data["path"]),
            name=str(data["name"]),
            size=int(data.get("size", 0)),
            case_ids=tuple(str(c) for c in data["cases"]),
            nodeid=str(data.get("nodeid", "")),
        )


class Inbox:
    """On the controller: attachment entries of tests whose outcome is not recorded yet."""

    def __init__(self) -> None:
        self._entries: dict[str, list[dict[str, Any]]] = {}
        # Attachments the spool could not keep, by reason: one line says the
        # first, and one at the end counts the rest (an unwritable spool fails
        # every attachment alike).
        self._unkept: dict[str, int] = {}

    def add(self, nodeid: str, entries: list[dict[str, Any]]) -> None:
        self._entries.setdefault(nodeid, []).extend(entries)

    def take(self, nodeid: str, case_ids: tuple[str, ...]) -> tuple[list[Attachment], list[str]]:
        """The test's attachments for `case_ids`, and a warning line for each one left out."""
        attached: list[Attachment] = []
        warnings: list[str] = []
        for entry in self._entries.pop(nodeid, ()):
            name = str(entry.get("name", "attachment"))
            if "phase" in entry:  # a bug while the phase's attachments were collected
                warnings.append(
                    f"Hawzu: attachments of {nodeid} ({entry['phase']}) {entry['error']}: "
                    "please report this"
                )
            elif "error" in entry:
                error = str(entry["error"])
                if entry.get("spool"):
                    seen = self._unkept.get(error)
                    self._unkept[error] = 0 if seen is None else seen + 1
                    if seen is not None:
                        continue
                warnings.append(f"Hawzu: attachment {name} of {nodeid} {error}; skipped")
            elif case_ids:
                path, size = str(entry["path"]), int(entry.get("size", 0))
                attached.append(Attachment(path, name, size, case_ids, nodeid))
            else:  # a hook left the test no case: nothing will send the copy
                _remove(entry)
        return attached, warnings

    def untold(self) -> list[str]:
        """A line for each reason that left out more attachments than it named."""
        return [
            f"Hawzu: {counted(n, 'more attachment')} could not be kept for the same reason; skipped"
            for n in self._unkept.values()
            if n
        ]

    def drop(self, nodeid: str) -> None:
        """Forget a test's attachments (its result was dropped, or the attempt they
        came from was rerun) and remove their files."""
        for entry in self._entries.pop(nodeid, ()):
            _remove(entry)

    def drop_all(self) -> None:
        """The session ends: tests that never finished get no attachments."""
        for nodeid in list(self._entries):
            self.drop(nodeid)


def _forget_void_attempt(item: pytest.Item) -> None:
    # A test set up again is rerun (pytest-rerunfailures): its last attempt is
    # void. Version 14 never logs such an attempt's teardown report, so no
    # controller drops the files on it; removing them twice does no harm.
    for entry in item.stash[_TORN_DOWN]:
        _remove(entry)
    del item.stash[_TORN_DOWN]


def remove_files(entries: list[dict[str, Any]]) -> None:
    """Remove the copies of attachments that will never be sent."""
    for entry in entries:
        _remove(entry)


def _remove(entry: dict[str, Any]) -> None:
    # A copy nobody will send: one the spool does not let go of only takes room.
    if "path" in entry:
        with contextlib.suppress(OSError):
            Path(entry["path"]).unlink(missing_ok=True)


def send(client: HawzuClient, execution_id: str, case_id: str, attachment: Attachment) -> str:
    """Upload one attachment to one case; OSError when its file is gone."""
    data = Path(attachment.path).read_bytes()
    return client.upload_attachment(execution_id, case_id, attachment.name, data)


class AttachmentQueue:
    """The uploader's attachments: held until their case's result is accepted, then sent.

    `hold` runs on pytest's thread, everything else on the sender thread; one
    lock guards the lot. A file is removed once every case it belongs to is
    settled (sent, or refused for good); files that were not sent stay, with
    the journal that names them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[str, list[Attachment]] = {}
        self._ready: deque[tuple[str, Attachment]] = deque()
        # Taken by the sender and not finished: still unsent if the flush times out.
        self._sending: tuple[str, Attachment] | None = None
        self._left: dict[str, int] = {}

    def hold(self, attachment: Attachment) -> None:
        with self._lock:
            for case_id in attachment.case_ids:
                self._held.setdefault(case_id, []).append(attachment)
            self._left[attachment.path] = self._left.get(attachment.path, 0) + len(
                attachment.case_ids
            )

    def release(self, case_id: str) -> None:
        """The case's result was accepted: its attachments may go."""
        with self._lock:
            for attachment in self._held.pop(case_id, ()):
                self._ready.append((case_id, attachment))

    def discard(self, case_id: str) -> list[Attachment]:
        """The case's result was rejected: its attachments never go; settle each."""
        with self._lock:
            return self._held.pop(case_id, [])

    def next(self) -> tuple[str, Attachment] | None:
        """The next attachment to send; call `finished` once it was sent or kept."""
        with self._lock:
            self._sending = self._ready.popleft() if self._ready else None
            return self._sending

    def finished(self) -> None:
        with self._lock:
            self._sending = None

    def settle(self, attachment: Attachment) -> str | None:
        """One case of `attachment` is done with; remove the file after the last.

        Why the file could not be removed, if it could not: a leftover copy,
        which must not stop anything.
        """
        with self._lock:
            left = self._left.get(attachment.path, 1) - 1
            if left > 0:
                self._left[attachment.path] = left
                return None
            self._left.pop(attachment.path, None)
        try:
            Path(attachment.path).unlink(missing_ok=True)
        except OSError as exc:
            return why(exc)
        return None

    def count(self) -> int:
        """Attachments not settled yet: held, ready or being sent."""
        with self._lock:
            held = sum(len(attachments) for attachments in self._held.values())
            return held + len(self._ready) + (self._sending is not None)

    def remaining(self) -> list[tuple[str, Attachment]]:
        """Everything not sent yet, held or ready; empties the queue."""
        with self._lock:
            left = [self._sending] if self._sending is not None else []
            left += self._ready
            left += [(c, a) for c, attachments in self._held.items() for a in attachments]
            self._sending = None
            self._ready.clear()
            self._held.clear()
        return left


def _copy(attacher: Attacher) -> None:
    attacher.copy = True


# Attachers of this process: in a child forked from it, each is a copy.
_attachers = InChild(_copy)

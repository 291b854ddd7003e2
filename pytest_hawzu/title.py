"""The execution title template and the default execution description.

Templates use str.format braces but are never handed to str.format: they are
parsed with string.Formatter().parse, every field must be a plain known name,
and rendering looks names up in a dict of strings. That rules out attribute
and index access ("{x.__class__}", "{x[0]}") whatever the template says.

A template is made of segments joined by separators (" · ", " | ", " - ", ...).
A segment whose fields all render empty is dropped together with its
separator, so one template reads well both in CI and on a laptop.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import datetime

from pytest_hawzu.ci import CiInfo
from pytest_hawzu.client import MAX_DESCRIPTION, MAX_TITLE

# "{ref}" and "{run}" are never half-empty ("main@abc1234", "main", "abc1234" or
# ""), so the CI part of the default title vanishes cleanly outside CI.
DEFAULT_TITLE = "pytest {date} {time} · {ref} · {run}"
FALLBACK_TITLE = "pytest"
LOCAL_PROVIDER = "local"
SHORT_COMMIT = 7

FIELDS: tuple[str, ...] = (
    "date",
    "time",
    "datetime",
    "release",
    "provider",
    "provider_name",
    "branch",
    "commit",
    "commit_short",
    "ref",
    "build",
    "build_url",
    "run",
    "host",
    "python",
    "pytest",
)
_VALID = ", ".join("{" + name + "}" for name in FIELDS)

# Whitespace on both sides keeps hyphens inside words and branch names intact.
# The class holds · • | / - and the en and em dashes.
_SEPARATOR = re.compile("\\s+[\u00b7\u2022|/\\-\u2013\u2014]\\s+")
_WHITESPACE = re.compile(r"\s+")


class TemplateError(ValueError):
    """A title template that cannot be rendered. The message is one line."""


# A piece of a parsed template: literal text, or the name of a field.
_Piece = tuple[str, bool]


def _fail(problem: str) -> TemplateError:
    return TemplateError(f"invalid title template: {problem}; valid fields: {_VALID}")


def _written(name: str, spec: str | None, conversion: str | None) -> str:
    """The field as the user wrote it, for error messages."""
    conversion = f"!{conversion}" if conversion else ""
    spec = f":{spec}" if spec else ""
    return "{" + name + conversion + spec + "}"


def _check_field(name: str, spec: str | None, conversion: str | None) -> None:
    shown = repr(_written(name, spec, conversion))
    if name == "" or name.isdigit():
        raise _fail(f"positional field {shown} is not allowed, use a field name")
    if any(char in name for char in ".[]"):
        raise _fail(f"field {shown} uses attribute or index access, which is not allowed")
    if name not in FIELDS:
        raise _fail(f"unknown field {shown}")
    if spec or conversion:
        raise _fail(f"field {shown} has a conversion or format spec, which is not supported")


def _parse(template: str) -> list[_Piece]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        shown = template if len(template) <= 80 else template[:79] + "…"
        hint = "write '{{' and '}}' for literal braces"
        raise _fail(f"malformed template {shown!r}: {exc} ({hint})") from None
    pieces: list[_Piece] = []
    for literal, name, spec, conversion in parsed:
        if literal:
            pieces.append((literal, False))
        if name is not None:
            _check_field(name, spec, conversion)
            pieces.append((name, True))
    return pieces


def validate(template: str) -> None:
    """Raise TemplateError unless template only uses known plain field names."""
    _parse(template)


def _ref(ci: CiInfo) -> str:
    short = ci.commit[:SHORT_COMMIT]
    return "@".join(part for part in (ci.branch, short) if part)


def _run(ci: CiInfo) -> str:
    if not ci.provider:
        return ""
    return f"{ci.provider} #{ci.build}" if ci.build else ci.provider


def fields(
    ci: CiInfo, *, release: str, now: datetime, host: str, python: str, pytest_version: str
) -> dict[str, str]:
    """Every template field as a string; "" when unknown, "local" provider outside CI."""
    return {
        "date": now.strftime("%Y-%m-%d"),
        "time": now.strftime("%H:%M:%S"),
        "datetime": now.isoformat(timespec="seconds"),
        "release": release,
        "provider": ci.provider or LOCAL_PROVIDER,
        "provider_name": ci.name or LOCAL_PROVIDER,
        "branch": ci.branch,
        "commit": ci.commit,
        "commit_short": ci.commit[:SHORT_COMMIT],
        "ref": _ref(ci),
        "build": ci.build,
        "build_url": ci.build_url,
        "run": _run(ci),
        "host": host,
        "python": python,
        "pytest": pytest_version,
    }


def _segments(pieces: list[_Piece]) -> list[tuple[str, list[_Piece]]]:
    """Split pieces at separators in literal text: (separator before, pieces)."""
    segments: list[tuple[str, list[_Piece]]] = [("", [])]
    for text, is_field in pieces:
        if is_field:
            segments[-1][1].append((text, True))
            continue
        start = 0
        for match in _SEPARATOR.finditer(text):
            segments[-1][1].append((text[start : match.start()], False))
            segments.append((match.group(), []))
            start = match.end()
        segments[-1][1].append((text[start:], False))
    return segments


def _render_segment(pieces: list[_Piece], values: Mapping[str, str]) -> str | None:
    """The segment's text, or None when it has fields and all of them are empty."""
    names = [text for text, is_field in pieces if is_field]
    if names and not any(values.get(name, "").strip() for name in names):
        return None
    return "".join(values.get(text, "") if is_field else text for text, is_field in pieces)


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def render_title(template: str, values: Mapping[str, str]) -> str:
    """The execution title: validated, empty segments dropped, 1..MAX_TITLE characters."""
    parts: list[str] = []
    for separator, pieces in _segments(_parse(template)):
        text = _render_segment(pieces, values)
        if text is None:
            continue
        # A separator only goes between two kept segments, never at either end.
        parts.append(separator + text if parts and separator else text)
    return fit_title("".join(parts)) or FALLBACK_TITLE


def fit_title(text: str) -> str:
    """A title as Hawzu takes it: one line, spaces collapsed, at most MAX_TITLE characters."""
    return _truncate(_WHITESPACE.sub(" ", text).strip(), MAX_TITLE)


_DESCRIPTION_LINES: tuple[tuple[str, str], ...] = (
    ("Build", "build_url"),
    ("Branch", "branch"),
    ("Commit", "commit"),
    ("Release", "release"),
    ("Host", "host"),
    ("Python", "python"),
    ("pytest", "pytest"),
    ("Started", "datetime"),
)


def _one_line(value: str) -> str:
    # Newlines in a value would forge extra "Label: value" lines.
    return _WHITESPACE.sub(" ", value).strip()


def _headline(values: Mapping[str, str]) -> str:
    name = _one_line(values.get("provider_name") or values.get("provider") or LOCAL_PROVIDER)
    if name == LOCAL_PROVIDER:
        return "pytest run outside CI"
    build = _one_line(values.get("build", ""))
    return f"pytest run on {name} build #{build}" if build else f"pytest run on {name}"


def render_description(values: Mapping[str, str]) -> str:
    """A plain-text summary of what is known about the run; unknown lines are left out."""
    lines = [_headline(values)]
    for label, key in _DESCRIPTION_LINES:
        value = _one_line(values.get(key, ""))
        if value:
            lines.append(f"{label}: {value}")
    return _truncate("\n".join(lines), MAX_DESCRIPTION)

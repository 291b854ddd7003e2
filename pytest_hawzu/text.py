"""Text safe to send and to show: valid characters, and no token.

A Python string can hold a lone surrogate: a byte of a name that is not
UTF-8 (a Latin-1 file name, a log record quoting one) decoded with
`surrogateescape`, as Python decodes file names. It can hold NUL too. JSON
can escape both, but execnet refuses to carry such a string from an xdist
worker, and many JSON parsers and databases refuse it behind an API: one
such character would sink a whole batch. Each becomes U+FFFD, which says
that a character was there; bytes that are UTF-8 after all (a name or a
variable read in the C locale, where Python decodes every byte past ASCII
this way) give their characters back.

The token, should a test show it, is hidden the same way wherever the
plugin keeps, sends or prints text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

REPLACEMENT = "\ufffd"
HIDDEN = "***"
# A shorter "secret" is no real one, and hiding it would garble the text.
MIN_SECRET = 8


def valid(text: str) -> str:
    """`text` with each lone surrogate and NUL replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", REPLACEMENT)
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        # UTF-16 pairs surrogates that belong together and replaces the rest.
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    # The bytes back, read as UTF-8: a locale that is not UTF-8 (LC_ALL=C,
    # without Python's UTF-8 mode) holds even UTF-8 bytes as surrogates.
    return raw.decode("utf-8", "replace")


def meant(value: str) -> str | None:
    """A value from argv or the environment as the user typed it; None when it
    holds a byte that is not UTF-8, or NUL.

    In a C locale without Python's UTF-8 mode even UTF-8 bytes past ASCII
    arrive as lone surrogates; read back as UTF-8 they are the text meant.
    """
    if "\x00" in value:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return value.encode("utf-8", "surrogateescape").decode("utf-8")
        except UnicodeError:
            return None
    return value


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of JSON-like `value` with `change` applied to every string, keys included."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(str(k)): map_strings(v, change) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [map_strings(v, change) for v in value]
    return value


def as_bytes(text: str) -> bytes:
    """UTF-8, with the bytes a surrogate stands for put back (captured output as it was)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        return valid(text).encode("utf-8")


def hiding(secret: str) -> str:
    """The secret `hide` should hide: "" (nothing) for one too short to be real."""
    return secret if len(secret) >= MIN_SECRET else ""


def hide(text: str, secret: str) -> str:
    """`text` with `secret` (from `hiding`) shown as ***."""
    return text.replace(secret, HIDDEN) if secret and secret in text else text

"""What the plugin's objects do in a process forked from pytest's by a test.

Such a child has none of the plugin's threads: a lock one of them held at
the fork stays held in it for ever, and a file the session holds open (and
locked) stays open in it as long as it lives.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class InChild(Generic[T]):
    """Objects of this process, each put right by `fix` in a forked child."""

    def __init__(self, fix: Callable[[T], None]) -> None:
        self._objects: weakref.WeakSet[T] = weakref.WeakSet()
        self._fix = fix
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._in_child)

    def add(self, obj: T) -> None:
        self._objects.add(obj)

    def _in_child(self) -> None:
        for obj in list(self._objects):
            self._fix(obj)

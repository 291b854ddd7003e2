"""From pytest outcomes to Hawzu statuses, with the user's overrides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pytest_hawzu.model import Status

# Outcomes a user may remap with `hawzu_status_map`; passed and failed are fixed.
DEFAULTS: Mapping[str, Status] = {
    "setup_error": Status.BLOCKED,
    "teardown_error": Status.FAILED,
    "xfail": Status.SKIPPED,
    "xpass": Status.PASSED,
    "skip": Status.SKIPPED,
}
FIXED: Mapping[str, Status] = {"passed": Status.PASSED, "failed": Status.FAILED}


def parse_status_map(lines: Iterable[str]) -> dict[str, Status]:
    """Parse `outcome = STATUS` lines; raise ValueError naming the first bad line."""
    mapping: dict[str, Status] = {}
    for line in lines:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        outcome, sep, value = (part.strip() for part in text.partition("="))
        if not sep or outcome not in DEFAULTS:
            raise ValueError(
                f"{text!r}: expected 'outcome = STATUS' with an outcome among {', '.join(DEFAULTS)}"
            )
        if outcome in mapping:  # which one was meant cannot be told
            raise ValueError(f"{text!r}: {outcome} is mapped twice; keep one line for it")
        try:
            mapping[outcome] = Status[value.upper()]
        except KeyError:
            raise ValueError(
                f"{text!r}: unknown status {value!r}; expected one of "
                f"{', '.join(s.name for s in Status)}"
            ) from None
    return mapping


class StatusTable:
    """The status for each outcome: the defaults, overridden by the user's map."""

    def __init__(self, overrides: Mapping[str, Status] | None = None) -> None:
        self._table = {**FIXED, **DEFAULTS, **(overrides or {})}

    def __getitem__(self, outcome: str) -> Status:
        return self._table[outcome]

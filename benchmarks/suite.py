"""Generate the benchmark's test suite: trivial passing tests, each linked to a Hawzu case."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TESTS_PER_FILE = 100
# A few parametrized tests share one case each, so the plugin's aggregation is
# on the path being measured and results < tests.
SHARED_GROUPS = 10
PARAMS_PER_GROUP = 5

# The marker is registered here as well as by the plugin so that runs with
# `-p no:hawzu` do not print thousands of unknown-marker warnings.
INI = """\
[pytest]
markers =
    hawzu(*case_ids): link a test to Hawzu test cases
"""


@dataclass(frozen=True)
class Suite:
    root: Path
    tests: int
    cases: int  # distinct case IDs, i.e. results the execution must end up with


def write_suite(root: Path, tests: int) -> Suite:
    """Write `tests` tests under `root`; the shared groups come last."""
    shared = SHARED_GROUPS * PARAMS_PER_GROUP
    if tests < shared + 1:
        raise ValueError(f"a suite needs more than {shared} tests, got {tests}")
    plain = tests - shared
    root.mkdir(parents=True, exist_ok=True)
    (root / "pytest.ini").write_text(INI)
    tests_dir = root / "tests"
    tests_dir.mkdir()
    for start in range(0, plain, TESTS_PER_FILE):
        stop = min(start + TESTS_PER_FILE, plain)
        body = "".join(_plain_test(n) for n in range(start + 1, stop + 1))
        _module(tests_dir / f"test_{start // TESTS_PER_FILE:05d}.py", body)
    groups = "".join(_shared_test(plain + g + 1) for g in range(SHARED_GROUPS))
    _module(tests_dir / "test_shared.py", groups)
    return Suite(root=root, tests=tests, cases=plain + SHARED_GROUPS)


def _module(path: Path, body: str) -> None:
    path.write_text("import pytest\n" + body)


def _plain_test(n: int) -> str:
    return f'\n\n@pytest.mark.hawzu("TCM-{n}")\ndef test_{n}():\n    pass\n'


def _shared_test(case: int) -> str:
    return (
        f'\n\n@pytest.mark.hawzu("TCM-{case}")\n'
        f'@pytest.mark.parametrize("n", range({PARAMS_PER_GROUP}))\n'
        f"def test_shared_{case}(n):\n    pass\n"
    )

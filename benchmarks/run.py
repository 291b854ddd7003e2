"""Benchmark pytest-hawzu against bare pytest: time, rate-limited flush, memory, xdist.

    python benchmarks/run.py [--quick] [--repeat N] [--only a,b,c,d]

See benchmarks/README.md for what each figure means. Exits 0 whether or not the
targets are met; exits non-zero only if a run crashed or a report went missing.
"""

from __future__ import annotations

import argparse
import compileall
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from floor import JOURNAL
from parts import PART_ENV
from runner import Run, run_pytest
from suite import Suite, write_suite

import pytest_hawzu
from pytest_hawzu.client import MAX_BATCH
from pytest_hawzu.sandbox import Sandbox

RELEASE = "1.4.0"  # a release the sandbox seeds as IN_PROGRESS
# High enough that the client throttle never waits on loopback: (a), (c) and (d)
# measure the cost per test; the throttle's cost is what (b) measures.
FAST_RATE = 1000
LIMITED_RATE = 2
TIME_TARGET = 1.05
FLUSH_TARGET = 1.3
MEMORY_TARGET_MIB = 30
XDIST_TARGET = 1.10
WARM_UP_TESTS = 60  # a suite needs more tests than its 50 shared ones
FLOOR_PLUGIN = "hawzu_floor"  # benchmarks/floor.py, as the suite's directory holds it
PARTS_PLUGIN = "hawzu_parts"  # benchmarks/parts.py, likewise


@dataclass(frozen=True)
class Variant:
    label: str
    args: list[str]
    reports: bool  # the plugin is on: the sandbox must hold every result afterwards
    part: str = ""  # a part of the plugin switched off (parts.py): the sandbox holds no result


@dataclass
class Samples:
    runs: list[Run] = field(default_factory=list)

    def median(self, metric: Callable[[Run], float]) -> float:
        return statistics.median(metric(r) for r in self.runs)

    @property
    def seconds(self) -> float:
        return self.median(lambda r: r.seconds)

    @property
    def cpu(self) -> float:
        return self.median(lambda r: r.cpu)

    @property
    def server_cpu(self) -> float:
        return self.median(lambda r: r.server_cpu)

    @property
    def switches(self) -> float:
        return self.median(lambda r: r.switches)

    @property
    def rss_mib(self) -> float:
        return self.median(lambda r: r.max_rss_kib / 1024)

    def spread(self) -> str:
        times = [r.seconds for r in self.runs]
        return f"{min(times):.2f}-{max(times):.2f}"


@dataclass(frozen=True)
class Check:
    figure: str
    measured: str
    target: str
    ok: bool | None  # None: informational, no target


class DeliveryError(AssertionError):
    pass


# -- running variants ----------------------------------------------------


class Bench:
    """Runs variants against one suite and one sandbox, checking every report."""

    def __init__(self, suite: Suite, sandbox: Sandbox, logs: Path) -> None:
        self.suite = suite
        self.sandbox = sandbox
        self.logs = logs

    def hawzu_args(self, rate: float | None) -> list[str]:
        args = [
            f"--hawzu-url={self.sandbox.url}",
            f"--hawzu-release={RELEASE}",
            f"--hawzu-spool-dir={self.logs / 'spool'}",
        ]
        return [*args, f"--hawzu-rate={rate:g}"] if rate is not None else args

    def measure(self, variants: list[Variant], repeat: int) -> dict[str, Samples]:
        """Interleave the variants, rotating the order each round, so that drift in
        machine load lands on all of them alike."""
        samples = {v.label: Samples() for v in variants}
        for round_ in range(repeat):
            shift = round_ % len(variants)
            for variant in variants[shift:] + variants[:shift]:
                _progress(f"  round {round_ + 1}/{repeat}: {variant.label}")
                samples[variant.label].runs.append(self.run(variant))
        return samples

    def run(self, variant: Variant) -> Run:
        self.sandbox.reset()
        log = self.logs / f"{_slug(variant.label)}.log"
        env = {PART_ENV: variant.part} if variant.part else None
        run = run_pytest(self.suite.root, variant.args, log, env=env)
        if run.passed != self.suite.tests:
            raise DeliveryError(
                f"{variant.label}: {run.passed} passed, expected {self.suite.tests}"
            )
        if variant.reports:
            check_delivery(self.sandbox, self.suite, variant.label)
        if variant.part:
            check_part(self.sandbox, variant.label)
        return run

    def part(self, label: str, part: str, extra: list[str] | None = None) -> Variant:
        """The plugin with one part switched off (see parts.py)."""
        args = [*self.hawzu_args(FAST_RATE), "-p", PARTS_PLUGIN, *(extra or [])]
        return Variant(label, args, reports=False, part=part)


def check_delivery(sandbox: Sandbox, suite: Suite, label: str) -> None:
    """One completed execution holding one PASSED result per case, or the run is void."""
    executions = sandbox.executions()
    if len(executions) != 1:
        raise DeliveryError(f"{label}: {len(executions)} executions in the sandbox, expected 1")
    execution = executions[0]
    results = execution["results"]
    expected = {f"TCM-{n}" for n in range(1, suite.cases + 1)}
    if set(results) != expected:
        missing = len(expected - set(results))
        raise DeliveryError(
            f"{label}: {len(results)} results, {missing} of {len(expected)} missing"
        )
    failed = [c for c, r in results.items() if r.get("status") != "PASSED"]
    if failed:
        raise DeliveryError(f"{label}: {len(failed)} results not PASSED, e.g. {failed[0]}")
    if execution["status"] != "COMPLETED":
        raise DeliveryError(f"{label}: execution left {execution['status']}")


def check_part(sandbox: Sandbox, label: str) -> None:
    """The part was off: the execution was opened and got no result."""
    executions = sandbox.executions()
    if len(executions) != 1 or executions[0]["results"]:
        held = sum(len(e["results"]) for e in executions)
        raise DeliveryError(f"{label}: {len(executions)} executions, {held} results; expected 1, 0")


def check_floor(suite: Suite) -> None:
    """The floor did its job: one journal line per test, or its figure means nothing."""
    lines = (suite.root / JOURNAL).read_text().count("\n")
    if lines != suite.tests:
        raise DeliveryError(f"floor: {lines} journal lines, expected {suite.tests}")


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-")


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _sandbox(suite: Suite, rate: float | None = None) -> Sandbox:
    return Sandbox(token="bench-token", case_count=suite.cases, rate=rate).start()


# -- the four figures --------------------------------------------------------


def figure_a(
    suite: Suite, logs: Path, repeat: int, parts: bool = False
) -> tuple[list[str], list[Check]]:
    sandbox = _sandbox(suite)
    shutil.copy(Path(__file__).with_name("floor.py"), suite.root / f"{FLOOR_PLUGIN}.py")
    try:
        bench = Bench(suite, sandbox, logs)
        bare = Variant("bare pytest (-p no:hawzu)", ["-p", "no:hawzu"], reports=False)
        junit = Variant(
            "pytest --junitxml", ["-p", "no:hawzu", f"--junitxml={logs / 'junit.xml'}"], False
        )
        floor = Variant("floor (journal only)", ["-p", "no:hawzu", "-p", FLOOR_PLUGIN], False)
        hawzu = Variant(f"hawzu --hawzu-rate={FAST_RATE}", bench.hawzu_args(FAST_RATE), True)
        default = Variant("hawzu, default --hawzu-rate", bench.hawzu_args(None), True)
        variants = [bare, junit, floor, hawzu, default]
        shown = [*variants, *_parts(bench, suite, parts, [])]
        s = bench.measure(shown, repeat)
    finally:
        sandbox.stop()
    check_floor(suite)
    b, j, f, h, d = (s[v.label] for v in variants)
    lines = _time_lines(f"(a) {_tests(suite)}, loopback sandbox", shown, s)
    checks = [
        _ratio_check("(a) hawzu / bare", h.seconds / b.seconds, TIME_TARGET),
        Check("(a) hawzu / junitxml", f"{h.seconds / j.seconds:.3f} x", "", None),
        Check("(a) junitxml / bare", f"{j.seconds / b.seconds:.3f} x", "", None),
        Check("(a) floor / bare", f"{f.seconds / b.seconds:.3f} x", "", None),
        Check("(a) hawzu CPU / bare CPU", f"{h.cpu / b.cpu:.3f} x", "", None),
        Check("(a) default rate / bare", f"{d.seconds / b.seconds:.3f} x", "", None),
        Check("(a) sandbox CPU per hawzu run", f"{h.server_cpu:.2f} s", "", None),
        Check("(a) thread switches, hawzu run", f"{h.switches:,.0f}", "", None),
        Check("(a) thread switches, bare run", f"{b.switches:,.0f}", "", None),
        *_part_checks("(a)", shown[len(variants) :], s, b),
    ]
    return lines, checks


def figure_b(suite: Suite, logs: Path, repeat: int) -> tuple[list[str], list[Check]]:
    sandbox = _sandbox(suite, rate=LIMITED_RATE)
    try:
        bench = Bench(suite, sandbox, logs)
        bare = Variant("bare pytest (-p no:hawzu)", ["-p", "no:hawzu"], reports=False)
        hawzu = Variant(f"hawzu --hawzu-rate={LIMITED_RATE}", bench.hawzu_args(LIMITED_RATE), True)
        s = bench.measure([bare, hawzu], repeat)
    finally:
        sandbox.stop()
    floor = math.ceil(suite.cases / MAX_BATCH) / LIMITED_RATE
    added = s[hawzu.label].seconds - s[bare.label].seconds
    title = f"(b) {_tests(suite)}, sandbox limited to {LIMITED_RATE} requests/s"
    lines = _time_lines(title, [bare, hawzu], s)
    lines.append(f"    added {added:.2f} s; floor ceil({suite.cases}/{MAX_BATCH})/{LIMITED_RATE}")
    lines[-1] += f" = {floor:g} s"
    return lines, [_ratio_check("(b) added / floor", added / floor, FLUSH_TARGET)]


def figure_c(suite: Suite, logs: Path, repeat: int) -> tuple[list[str], list[Check]]:
    sandbox = _sandbox(suite)
    try:
        bench = Bench(suite, sandbox, logs)
        bare = Variant("bare pytest (-p no:hawzu)", ["-p", "no:hawzu"], reports=False)
        hawzu = Variant(f"hawzu --hawzu-rate={FAST_RATE}", bench.hawzu_args(FAST_RATE), True)
        s = bench.measure([bare, hawzu], repeat)
    finally:
        sandbox.stop()
    lines = [f"(c) {_tests(suite)}, peak RSS (median of {repeat})"]
    for v in (bare, hawzu):
        lines.append(f"    {v.label:<36} {s[v.label].rss_mib:8.1f} MiB")
    extra = s[hawzu.label].rss_mib - s[bare.label].rss_mib
    check = Check(
        "(c) hawzu RSS - bare RSS",
        f"{extra:+.1f} MiB",
        f"<= {MEMORY_TARGET_MIB} MiB",
        extra <= MEMORY_TARGET_MIB,
    )
    return lines, [check]


def figure_d(
    suite: Suite, logs: Path, repeat: int, parts: bool = False
) -> tuple[list[str], list[Check]]:
    sandbox = _sandbox(suite)
    try:
        bench = Bench(suite, sandbox, logs)
        bare = Variant("bare pytest -n 2", ["-p", "no:hawzu", "-n", "2"], reports=False)
        hawzu = Variant(
            f"hawzu -n 2 --hawzu-rate={FAST_RATE}", [*bench.hawzu_args(FAST_RATE), "-n", "2"], True
        )
        shown = [bare, hawzu, *_parts(bench, suite, parts, ["-n", "2"])]
        s = bench.measure(shown, repeat)
    finally:
        sandbox.stop()
    lines = _time_lines(f"(d) {_tests(suite)}, pytest-xdist -n 2", shown, s)
    h = s[hawzu.label]
    ratio = h.seconds / s[bare.label].seconds
    return lines, [
        _ratio_check("(d) hawzu -n 2 / bare -n 2", ratio, XDIST_TARGET),
        Check("(d) sandbox CPU per hawzu run", f"{h.server_cpu:.2f} s", "", None),
        *_part_checks("(d)", shown[2:], s, s[bare.label]),
    ]


def _parts(bench: Bench, suite: Suite, on: bool, extra: list[str]) -> list[Variant]:
    """With --parts: the plugin sending nothing, and sending without requests."""
    if not on:
        return []
    shutil.copy(Path(__file__).with_name("parts.py"), suite.root / f"{PARTS_PLUGIN}.py")
    name = " ".join(["hawzu", *extra])
    return [
        bench.part(f"{name}, nothing sent", "unsent", extra),
        bench.part(f"{name}, no requests", "unanswered", extra),
    ]


def _part_checks(
    figure: str, variants: list[Variant], samples: dict[str, Samples], bare: Samples
) -> list[Check]:
    return [
        Check(f"{figure} {v.label.split(', ')[-1]} / bare", f"{r:.3f} x", "", None)
        for v in variants
        for r in [samples[v.label].seconds / bare.seconds]
    ]


def _tests(suite: Suite) -> str:
    return f"{suite.tests:,} tests, {suite.cases:,} results"


def _time_lines(title: str, variants: list[Variant], samples: dict[str, Samples]) -> list[str]:
    lines = [title, f"    {'variant':<36} {'median':>8} {'min-max':>13} {'CPU':>8}"]
    for v in variants:
        s = samples[v.label]
        lines.append(f"    {v.label:<36} {s.seconds:7.2f}s {s.spread():>13} {s.cpu:7.2f}s")
    return lines


def _ratio_check(figure: str, ratio: float, target: float) -> Check:
    return Check(figure, f"{ratio:.3f} x", f"<= {target:g} x", ratio <= target)


# -- command line --------------------------------------------------------------

FIGURES = {"a": figure_a, "b": figure_b, "c": figure_c, "d": figure_d}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--quick", action="store_true", help="small suites and 2 repeats, for development"
    )
    p.add_argument("--repeat", type=int, help="timed runs per variant (default 5, quick 2)")
    p.add_argument("--memory-repeat", type=int, default=1, help="runs per variant for (c)")
    p.add_argument("--tests", type=int, help="suite size for (a), (b), (d) (default 5000)")
    p.add_argument("--memory-tests", type=int, help="suite size for (c) (default 100000)")
    p.add_argument("--only", default="abcd", help="figures to run, e.g. 'ad' (default abcd)")
    p.add_argument("--keep", action="store_true", help="keep the generated suites and logs")
    p.add_argument(
        "--parts",
        action="store_true",
        help="(a) and (d) also run the plugin sending nothing, and sending without requests",
    )
    args = p.parse_args(argv)
    args.repeat = args.repeat or (2 if args.quick else 5)
    args.tests = args.tests or (1_000 if args.quick else 5_000)
    args.memory_tests = args.memory_tests or (10_000 if args.quick else 100_000)
    unknown = set(args.only.replace(",", "")) - set(FIGURES)
    if unknown or args.repeat < 1:
        p.error(f"--only takes letters from 'abcd'; --repeat at least 1 (got {args.only!r})")
    return args


def header(args: argparse.Namespace) -> str:
    return (
        f"pytest-hawzu benchmark: Python {platform.python_version()}, pytest {pytest.__version__}, "
        f"{os.cpu_count()} CPUs, repeat {args.repeat}, memory repeat {args.memory_repeat}"
    )


def summary(checks: list[Check]) -> list[str]:
    lines = [f"{'figure':<30} {'measured':>12} {'target':>12}  result"]
    for c in checks:
        verdict = "info" if c.ok is None else ("PASS" if c.ok else "MISS")
        lines.append(f"{c.figure:<30} {c.measured:>12} {c.target:>12}  {verdict}")
    return lines


def compile_plugins(work: Path) -> None:
    """Bytecode for the plugins, as an installed plugin has it after its first run.

    The runs set PYTHONDONTWRITEBYTECODE for the test modules' sake. pytest
    loads every plugin of an installed distribution through its assertion
    rewriter, which keeps bytecode files of its own (`*-pytest-X.pyc`) next
    to the ones `pip install` writes; without them every measured run, and
    every xdist process, would compile pytest-hawzu, pytest-xdist and the
    other plugins from source. One unmeasured run with bytecode allowed, of
    every plugin the figures load, writes them.
    """
    compileall.compile_dir(Path(pytest_hawzu.__file__).parent, quiet=1)
    suite = write_suite(work / "suite-warm-up", WARM_UP_TESTS)
    sandbox = _sandbox(suite)
    try:
        args = [*Bench(suite, sandbox, work).hawzu_args(FAST_RATE), "-n", "2"]
        run_pytest(suite.root, args, work / "warm-up.log", bytecode=True)
    finally:
        sandbox.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="hawzu-bench-"))
    sections: list[str] = []
    checks: list[Check] = []
    try:
        _progress("warming up")
        compile_plugins(work)
        small = write_suite(work / "suite", args.tests)
        for letter in "abcd":
            if letter not in args.only:
                continue
            _progress(f"figure ({letter})")
            logs = work / f"logs-{letter}"
            logs.mkdir()
            if letter == "c":
                suite = write_suite(work / "suite-memory", args.memory_tests)
                lines, found = figure_c(suite, logs, args.memory_repeat)
            elif letter == "a":
                lines, found = figure_a(small, logs, args.repeat, args.parts)
            elif letter == "d":
                lines, found = figure_d(small, logs, args.repeat, args.parts)
            else:
                lines, found = FIGURES[letter](small, logs, args.repeat)
            sections += [*lines, ""]
            checks += found
    finally:
        if args.keep:
            _progress(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join([header(args), "", *sections, *summary(checks)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

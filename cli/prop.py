"""`incentives prop`: property-test every policy of a rule set — the boundary enumeration, a
random search, and the document's worked cases — and print each broken invariant with its
counterexample profile and a `reproduce:` command that works as printed."""

from __future__ import annotations

import builtins
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..engine import InputError, PolicySet
from ..engine.check.cases import case_findings, run_cases
from ..engine.check.findings import Finding, Severity
from ..engine.compile.loader import bundled_policies
from .main import EXIT_INPUT, main
from .render import json_text, safe

if TYPE_CHECKING:
    from ..engine.testing.search import Counterexample, PolicyRun

DEFAULT_EXAMPLES = 20  # random scenarios per policy after the boundary walk (see the README)


@main.command("prop")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--examples", default=DEFAULT_EXAMPLES, show_default=True, type=click.IntRange(0, 1_000_000),
    help="Random scenarios per policy after the boundary walk (0: the walk alone).",
)  # fmt: skip
@click.option(
    "--seed", type=int, default=None, help="Seed of the search; the same seed repeats a run."
)
@click.option(
    "--policy", "policy_ids", multiple=True, metavar="ID", help="Only this policy (repeatable)."
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Write each counterexample profile into this directory (default: a new temporary one).",
)  # fmt: skip
@click.option(
    "--jobs", type=click.IntRange(1, 64), default=None,
    help="Policies tested at once, in separate processes (default: 2, or 1 on one core).",
)  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def prop(
    directory: Path | None, examples: int, seed: int | None, policy_ids: tuple[str, ...],
    out: Path | None, jobs: int | None, fmt: str,
) -> None:  # fmt: skip
    """Property-test the policies of DIRECTORY (default: the bundled library): every threshold
    and band bound walked one step below, at and above with the other criteria met, then a
    random search; invariants: determinism, soundness of unknowns, explanations, amounts and
    caps, exclusive stacking, declared monotonicity, effective dates, an eligible cash benefit
    that pays nothing. The worked cases (*.cases.yaml) run too. Exit status 1 if an invariant
    or a case fails (a warning alone exits 0)."""
    invariants = _invariants()
    if out is not None:  # before the search, not after it found something to write
        _make(out)
    policy_set = PolicySet(directory)
    chosen = [policy_set.get(pid).id for pid in policy_ids] or [p.id for p in policy_set.policies]
    run_seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
    where = str(directory) if directory is not None else "the bundled library"
    text = fmt == "text"
    if text:
        click.echo(
            f"prop: {len(chosen)} policies of {where} × {invariants} invariants: every bound "
            f"walked, then {examples} random examples each, --seed {run_seed}"
        )
    workers = jobs if jobs is not None else min(2, os.cpu_count() or 1)
    writer = _Writer(out, directory)
    findings: list[Finding] = []
    unsolved: list[dict[str, str]] = []
    for run in _runs(policy_set, chosen, examples, run_seed, workers):
        own = [writer.finding(policy_set, c) for c in run.counterexamples]
        findings += own
        unsolved += [{"policy": run.policy_id, "reason": run.unsolved}] if run.unsolved else []
        if text:
            _print_run(run, own)
    cases = _cases(policy_set, directory, chosen)
    summary = {"tool": "prop", "directory": where, "seed": run_seed, "examples": examples,
               "policies": len(chosen), "unsolved": unsolved}  # fmt: skip
    if _report([*findings, *cases], cases, summary, text):
        sys.exit(1)


def _report(
    findings: list[Finding], cases: list[Finding], summary: dict[str, Any], text: bool
) -> int:
    """The failing worked cases and the counts (text), or the JSON object; the error count."""
    errors = sum(f.severity == "error" for f in findings)
    if not text:
        body = {**summary, "errors": errors, "warnings": len(findings) - errors,
                "findings": [f.to_json() for f in findings]}  # fmt: skip
        click.echo(json_text(body))
        return errors
    for finding in cases:
        click.echo(safe(f"  FAIL  {finding}"))
    warned = len(findings) - errors
    tail = f", {warned} warning(s)" if warned else ""
    click.echo(f"prop: {errors} failure(s){tail}" if findings else "prop: all invariants hold")
    return errors


def _invariants() -> int:
    """How many invariants there are; exits with a message without hypothesis installed."""
    try:
        from ..engine.testing import INVARIANTS
    except ImportError:  # pragma: no cover - depends on the installation
        click.echo(
            "Error: `incentives prop` needs hypothesis: pip install 'incentives[testing]'", err=True
        )
        sys.exit(EXIT_INPUT)
    return len(INVARIANTS)


def _make(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {out}: cannot create the directory: {exc.strerror or exc}") from None


def _runs(
    policy_set: PolicySet, chosen: list[str], examples: int, seed: int, workers: int
) -> Iterator[PolicyRun]:
    """Each policy's run, in order (the same seed gives the same runs however many workers),
    with a progress line and an estimate of the time left on a terminal (standard error, so
    that the report itself stays as it is)."""
    started = time.monotonic()
    show = sys.stderr.isatty()
    with _pool(policy_set, workers) as pool:
        runs = pool.map(_one, [(pid, examples, seed) for pid in chosen])
        for index, run in enumerate(runs, start=1):
            if show:
                spent = time.monotonic() - started
                left = spent / index * (len(chosen) - index)
                click.echo(f"\r  {index}/{len(chosen)} policies, {spent:.0f} s, about {left:.0f} s "
                           "left ", nl=False, err=True)  # fmt: skip
            yield run
    if show:
        click.echo("\r" + " " * 60 + "\r", nl=False, err=True)


_SET: list[PolicySet] = []  # the policy set a worker process tests (set by `_start`)


def _start(policy_set: PolicySet) -> None:
    _SET[:] = [policy_set]


def _one(job: tuple[str, int, int]) -> PolicyRun:
    from ..engine.testing.search import run_policy

    policy_id, examples, seed = job
    return run_policy(_SET[0], policy_id, examples, seed)


@contextmanager
def _pool(policy_set: PolicySet, workers: int) -> Iterator[Any]:
    """`map` over worker processes (forked with the loaded set), or in this process for one."""
    _start(policy_set)
    methods = multiprocessing.get_all_start_methods()
    if workers == 1 or "fork" not in methods:
        yield _Serial()
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start,
                             initargs=(policy_set,)) as pool:  # fmt: skip
        yield pool


class _Serial:
    @staticmethod
    def map(function: Any, jobs: list[Any]) -> Iterator[Any]:
        return builtins.map(function, jobs)


def _print_run(run: PolicyRun, own: list[Finding]) -> None:
    if not own:
        click.echo(f"  ok    {run.policy_id}")
    if run.unsolved is not None:
        click.echo(safe(f"        note: {run.unsolved}"))
    for finding in own:
        cex = finding.counterexample or {}
        mark = "FAIL" if finding.severity == "error" else "WARN"
        click.echo(safe(f"  {mark}  {run.policy_id}  invariant {finding.code} "
                        f"(found by the {cex.get('found_by')})"))  # fmt: skip
        click.echo(safe(f"        {finding.message}"))
        click.echo(safe(f"        reproduce: {cex.get('reproduce')}"))
        click.echo(safe(f"        written to {cex.get('written')}"))
        click.echo("        counterexample profile:")
        profile = Path(str(cex.get("written"))).read_text(encoding="utf-8")
        for line in profile.splitlines():
            click.echo(safe(f"          {line}"))


class _Writer:
    """Writes counterexample profiles (into --out, else a temporary directory made when the
    first one is found) and makes each counterexample's finding."""

    def __init__(self, out: Path | None, directory: Path | None) -> None:
        self.out, self.directory = out, directory

    def finding(self, policy_set: PolicySet, found: Counterexample) -> Finding:
        from ..engine.testing import profile_yaml
        from ..engine.testing.invariants import SEVERITY

        if self.out is None:
            self.out = Path(tempfile.mkdtemp(prefix="incentives-prop-"))
        policy_id, day = found.policy_id, found.scenario.as_of.isoformat()
        path = (self.out / f"{policy_id}.{found.invariant}.yaml").resolve()
        dir_option = f" --policies {self.directory}" if self.directory is not None else ""
        command = f"incentives explain {path} {policy_id} --as-of {day}{dir_option}"
        text = profile_yaml(
            {"name": f"counterexample: {found.invariant} of {policy_id}", **found.scenario.data},
            comment=f"{found.invariant} broken by {policy_id} on {day}: {found.message}\n"
            f"reproduce: {command}",
        )
        path.write_text(text, encoding="utf-8")
        where = policy_set.get(policy_id).where
        severity: Severity = "warning" if SEVERITY.get(found.invariant) == "warning" else "error"
        counterexample = {
            "found_by": found.found_by, "as_of": day, "profile": _jsonable(found.scenario.data),
            "reproduce": command, "written": str(path),
        }  # fmt: skip
        return Finding(severity, found.invariant, found.message, policy_id, where.file or None,
                       where.line, counterexample)  # fmt: skip


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _cases(policy_set: PolicySet, directory: Path | None, chosen: list[str]) -> list[Finding]:
    """The worked cases of the chosen policies, as findings (a failing case is an error)."""
    root = directory if directory is not None else bundled_policies()
    known = {plan.id for plan in policy_set.policies}
    results = [r for r in run_cases(policy_set, root)
               if r.case.policy in chosen or r.case.policy not in known]  # fmt: skip
    return [f for f in case_findings(policy_set, results) if f.code != "case-coverage"]

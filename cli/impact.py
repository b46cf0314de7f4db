"""`incentives impact`: what a change of the policy set does to a register. Parse the options,
one engine call (`engine.batch.impact.impact_register`), render its report."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import BinaryIO

import click
from rich.console import Console
from rich.table import Table

from ..engine import PolicySet
from ..engine.batch.impact import impact_register  # needs the batch extra (Polars)
from ..engine.batch.impact_tally import Example, ImpactReport
from ..engine.batch.output import AtomicFile, policy_inputs, refuse_inputs
from ..engine.batch.registers import register_input
from ..engine.batch.results import money_text
from .diff import base_option, candidate_option
from .main import (
    as_of_option,
    encoding_option_for,
    main,
    register_argument,
    register_format_option,
    tax_year_option,
)
from .render import json_text, safe

SHOWN_BAD = 20


WIDTH = 160  # when not a terminal: a policy id, its transition and examples fit on one line


def _console(stderr: bool = False) -> Console:
    tty = sys.stderr.isatty() if stderr else sys.stdout.isatty()
    return Console(stderr=stderr, highlight=False, width=None if tty else WIDTH)


@main.command()
@register_argument
@base_option
@candidate_option
@as_of_option
@tax_year_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (replaced only when the run completes; never an input): the "
                   "report for table and json, the changed results for csv and parquet.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "parquet"]),
              default="table",
              help="table or json: the report; csv or parquet: one row per enterprise × policy "
                   "whose status or amount changes (the report then goes to stderr).")  # fmt: skip
@click.option("--examples", default=3, show_default=True, type=click.IntRange(0, 100),
              help="Example enterprises kept per transition.")  # fmt: skip
@click.option("--explain-transitions", "explain", default=0, type=click.IntRange(0, 100),
              metavar="N", help="Explain N examples of each transition under both sets.")  # fmt: skip
@encoding_option_for("a CSV or JSON Lines register")
@register_format_option
def impact(
    register: Path, base_dir: Path | None, candidate_dir: Path, as_of: date | None,
    tax_year: int | None, out: Path | None, fmt: str, examples: int, explain: int,
    encoding: str | None, register_format: str | None,
) -> None:  # fmt: skip
    """What replacing the --base policies by the --candidate ones does to the enterprises of
    REGISTER (.jsonl, .csv or .parquet): transitions, amounts, who is better or worse off.

    REGISTER - reads the register from standard input (its format is --register-format, or
    sniffed from the first bytes)."""
    if fmt == "parquet" and out is None:
        raise click.UsageError("--format parquet needs --out FILE")
    base, candidate = PolicySet(base_dir), PolicySet(candidate_dir)
    rows = fmt in ("csv", "parquet")
    sink = out if rows and out is not None else (sys.stdout.buffer if rows else None)
    sys.stdout.flush()
    source, register_format, name = register_input(register, register_format, sys.stdin.buffer)
    with _report_file(None if rows else out, register, base, candidate) as report_file:
        report = impact_register(
            base, candidate, source, as_of or date.today(), out=sink,
            fmt=fmt if rows else "csv", register_fmt=register_format, encoding=encoding,
            examples=max(examples, explain), explain_transitions=explain, name=name,
            tax_year=tax_year,
        )  # fmt: skip
        if rows:
            print_impact(report, _console(stderr=True))
        elif fmt == "json":
            text = json_text(report.to_json()) + "\n"
            if report_file is None:
                click.echo(text, nl=False)
            else:
                report_file.write(text.encode("utf-8"))
        elif report_file is None:
            print_impact(report, _console())
        else:
            buffer = io.StringIO()
            print_impact(report, Console(file=buffer, highlight=False, width=WIDTH))
            report_file.write(buffer.getvalue().encode("utf-8"))


@contextlib.contextmanager
def _report_file(
    out: Path | None, register: Path, *sets: PolicySet
) -> Iterator[BinaryIO | None]:
    """The report's file, opened before the run (a target that cannot be written is refused
    at once) and committed only when the run completes; never an input of the run."""
    if out is None:
        yield None
        return
    for policy_set in sets:
        root, files = policy_inputs(policy_set.directory)
        refuse_inputs(out, [register, *files], root)
    target = AtomicFile(out)
    handle = target.open()
    try:
        yield handle
        target.commit()
    except BaseException:
        target.discard()
        raise


def print_impact(report: ImpactReport, console: Console) -> None:
    console.print(
        f"{report.screened} enterprises, {report.bad_count} bad rows: {report.better_off} "
        f"better off, {report.worse_off} worse off"
    )
    _print_costs(report, console)
    _print_transitions(report, console)
    _print_amounts(report, console)
    _print_explanations(report, console)
    for number, message in report.bad[:SHOWN_BAD]:
        console.print(f"bad row {number}: {safe(message)}", markup=False, soft_wrap=True)
    if report.bad_count > SHOWN_BAD:
        console.print(f"… and {report.bad_count - SHOWN_BAD} more bad rows")


def _print_costs(report: ImpactReport, console: Console) -> None:
    table = Table(title="cost (yuan, eligible results after stacking)")
    for name in ("kind", "base", "candidate", "delta", "of which illustrative"):
        table.add_column(name, justify="left" if name == "kind" else "right")
    totals, marked = report.totals(), report.delta(illustrative_only=True)
    for kind, (old, new) in totals.items():
        table.add_row(kind, money_text(old), money_text(new), money_text(new - old), money_text(marked[kind]))
    console.print(table)


def _print_transitions(report: ImpactReport, console: Console) -> None:
    table = Table(title="policies whose results change (base → candidate)")
    table.add_column("policy", overflow="fold")
    table.add_column("definition")
    table.add_column("transition", no_wrap=True)
    table.add_column("enterprises", justify="right")
    table.add_column("examples (row: credit code)", overflow="fold", min_width=20)
    for pid in report.policy_ids():
        kind = report.kind_of(pid)
        lines = _transition_lines(report, pid)
        if kind == "unchanged" and not lines:
            continue
        marked = kind + (", illustrative" if report.illustrative.get(pid) else "")
        for i, (label, n, found) in enumerate(lines or [("no result changes", 0, [])]):
            codes = ", ".join(f"{e.row}: {e.credit_code or '—'}" for e in found)
            table.add_row(safe(pid) if i == 0 else "", marked if i == 0 else "", label, str(n),
                          safe(codes))  # fmt: skip
    console.print(table)


def _transition_lines(report: ImpactReport, pid: str) -> list[tuple[str, int, list[Example]]]:
    """A policy's transitions between statuses, then its results whose amount alone changed."""
    lines = [
        (f"{before} → {after}", n, report.examples.get((pid, before, after), []))
        for (before, after), n in report.policy_transitions(pid).items()
        if before != after
    ]
    changed = report.amount_changed.get(pid, 0)
    if changed:
        same = [e for (p, b, a), found in report.examples.items() if p == pid and b == a
                for e in found]  # fmt: skip
        lines.append(("same status, amount changed", changed, same))
    return lines


def _print_amounts(report: ImpactReport, console: Console) -> None:
    for title, rows in (
        ("amounts by policy", [(pid, report.totals(pid)) for pid in report.policy_ids()]),
        ("amounts by zone", [(zone, report.totals(zone=zone)) for zone in report.zones()]),
    ):
        table = Table(title=title)
        for name in ("", "kind", "base", "candidate", "delta"):
            table.add_column(name, justify="right" if name not in ("", "kind") else "left")
        for name, totals in rows:
            for kind, (old, new) in totals.items():
                if old != new:
                    table.add_row(safe(name), kind, money_text(old), money_text(new), money_text(new - old))
        if table.row_count:
            console.print(table)


def _print_explanations(report: ImpactReport, console: Console) -> None:
    for examples in report.examples.values():
        for example in examples:
            explained = example.explanation
            if explained is None:
                continue
            console.print(
                f"\n■ {safe(example.policy_id)} row {example.row} "
                f"({safe(example.credit_code or 'no credit code')}): "
                f"{example.before} → {example.after}", markup=False, soft_wrap=True,
            )  # fmt: skip
            for old, new in explained.changed:
                console.print(f"  base:      {safe(old or '—')}", markup=False, soft_wrap=True)
                console.print(f"  candidate: {safe(new or '—')}", markup=False, soft_wrap=True)

"""`incentives screen`: every enterprise of a register × every policy, vectorised, in batches.

Parse the options, one engine call (`engine.batch.screening.screen_register`: reading, writing,
tallying), then render its summary and the explanations asked for.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from ..engine import PolicySet
from ..engine.batch.registers import register_input
from ..engine.batch.results import money_text
from ..engine.batch.screening import screen_register  # needs the batch extra (Polars)
from .main import (
    as_of_option,
    encoding_option_for,
    main,
    policies_option,
    register_argument,
    register_format_option,
    tax_year_option,
)
from .render import safe

if TYPE_CHECKING:
    from ..engine.batch.results import Summary
    from ..engine.batch.screening import Progress

STATUSES = ("eligible", "undetermined", "needs_review", "ineligible", "not_in_force")
SHOWN_BAD = 20


def _console() -> Console:
    return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)


@contextlib.contextmanager
def _progress_bar() -> Iterator[Progress | None]:
    """A progress bar on stderr when it is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress as Bar

    with Bar(transient=True) as bar:
        task = bar.add_task("screening", total=None)

        def progress(position: int, total: int | None) -> None:
            bar.update(task, completed=position, total=total)

        yield progress


def print_summary(summary: Summary, policy_set: PolicySet, console: Console) -> None:
    table = Table(title=f"{summary.screened} enterprises screened, {summary.bad_count} bad rows")
    for name in ("policy", *STATUSES, "total amount"):
        table.add_column(name, justify="left" if name == "policy" else "right")
    for cp in policy_set.policies:
        counts = [str(summary.count(cp.id, status)) for status in STATUSES]
        amount = summary.policy_amounts.get(cp.id)
        shown = (
            ""
            if cp.benefit.amount_kind == "none"
            else f"{money_text(amount or Decimal(0))} {cp.benefit.amount_kind}"
        )
        table.add_row(cp.id, *counts, shown)
    console.print(table)
    zones = Table(title="eligible results by zone")
    zones.add_column("zone")
    zones.add_column("eligible", justify="right")
    zones.add_column("total amount (yuan)", justify="right")
    for zone in sorted(summary.zone_eligible):
        zones.add_row(
            zone, str(summary.zone_eligible[zone]), money_text(summary.zone_amounts[zone])
        )
    console.print(zones)
    for number, message in summary.bad[:SHOWN_BAD]:  # one line each, escaped: cells hold anything
        console.print(f"bad row {number}: {safe(message)}", markup=False, soft_wrap=True)
    if summary.bad_count > SHOWN_BAD:
        console.print(f"… and {summary.bad_count - SHOWN_BAD} more bad rows")


@main.command()
@register_argument
@as_of_option
@tax_year_option
@policies_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the results here, replaced only when the run completes (default: "
                   "standard output; required for parquet). Never an input of the run.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv",
              help="Format of the results: one row per enterprise × policy.")  # fmt: skip
@encoding_option_for("a CSV or JSON Lines register")
@register_format_option
@click.option("--explain", "explain_rows", multiple=True, type=int, metavar="ROW",
              help="Explain the verdicts of this register row (reference evaluator); repeatable.")  # fmt: skip
def screen(
    register: Path, as_of: date | None, tax_year: int | None, policies_dir: Path | None,
    out: Path | None, fmt: str, encoding: str | None, register_format: str | None,
    explain_rows: tuple[int, ...],
) -> None:  # fmt: skip
    """Screen every enterprise of REGISTER (.jsonl, .csv or .parquet) against every policy.

    REGISTER - reads the register from standard input: JSON Lines and CSV batch by batch as
    they arrive, Parquet whole (its index is at its end); the format is --register-format, or
    sniffed from the first bytes."""
    if fmt == "parquet" and out is None:
        raise click.UsageError("--format parquet needs --out FILE")
    policy_set = PolicySet(policies_dir)
    day = as_of or date.today()
    sys.stdout.flush()
    source, register_format, name = register_input(register, register_format, sys.stdin.buffer)
    with _progress_bar() as progress:
        summary = screen_register(
            policy_set, source, day, out=out or sys.stdout.buffer, fmt=fmt,
            register_fmt=register_format, encoding=encoding, explain=explain_rows,
            progress=progress, tax_year=tax_year, name=name,
        )  # fmt: skip
    console = _console()
    print_summary(summary, policy_set, console)
    if explain_rows:
        from .i18n import default_lang
        from .render import print_report

        for number in explain_rows:
            profile = summary.explained.get(number)
            if profile is None:
                console.print(f"row {number}: not a valid row of the register; nothing to explain")
                continue
            console.print(f"\n[bold]row {number}[/bold]")
            report = policy_set.evaluate(profile, day, tax_year=tax_year, explain=True)
            print_report(report, default_lang(), True, console)

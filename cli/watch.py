"""`incentives watch`: JSON Lines updates in, JSON Lines verdict-change events out."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import BinaryIO

import click

from ..engine import InputError, PolicySet
from ..engine.model.jsonio import JsonError, load_json
from ..engine.model.streams import numbered_lines
from ..engine.reactive import (
    ReactiveCompileError,
    ReactiveSession,
    UpdateError,
    unavailable_reason,
)
from ..engine.reactive.session import ENGINES, Engine
from ..engine.reference.evaluate import default_as_of
from .main import as_of_option, encoding_option_for, main, policies_option, tax_year_option
from .render import json_line, safe

SHOWN_MESSAGE = 2_000  # characters of a skipped line's message shown on stderr


@main.command()
@click.argument("updates", type=click.File("rb"), default="-")
@policies_option
@as_of_option
@tax_year_option
@encoding_option_for("the updates")
@click.option(
    "--explain/--no-explain",
    default=False,
    help="Attach the reference evaluator's explanation to every event.",
)
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    default="index",
    show_default=True,
    help="index: re-evaluate only the policies an update can change; durable: durable_rules.",
)
def watch(
    updates: BinaryIO, policies_dir: Path | None, as_of: date | None, tax_year: int | None,
    encoding: str | None, explain: bool, engine: Engine,
) -> None:  # fmt: skip
    """Follow enterprise updates (JSON Lines from UPDATES or stdin) and print an event, as JSON
    Lines, each time a policy's verdict for an enterprise changes.

    \b
    One update per line, exactly one change each:
      {"enterprise": "E1", "profile": {...}}          replace the whole profile
      {"enterprise": "E1", "set": {"employees": 120}}  merge fields
      {"enterprise": "E1", "retract": ["financials.2025.revenue"]}
      {"enterprise": "E1", "remove": true}
    A malformed line (bad JSON, bad bytes, an invalid update) is reported on stderr with its
    number and skipped; the session goes on.
    """
    reason = unavailable_reason()
    if engine == "durable" and reason is not None:
        raise InputError(
            f"incentives watch --engine durable needs durable_rules, which is unavailable "
            f"here: {reason}"
        )
    policy_set = PolicySet(policies_dir)
    try:
        session = ReactiveSession(
            policy_set, as_of or default_as_of(), tax_year=tax_year, engine=engine
        )
    except ReactiveCompileError as exc:
        raise InputError(f"the policy set cannot run on durable_rules: {exc}") from None
    with session:
        for number, text, problem in numbered_lines(updates, encoding):
            if problem is not None:  # bytes that are not text, a line too long
                _skip(number, problem)
                continue
            if not text.strip(" \t\r\n"):
                continue
            try:
                events = session.apply(load_json(text), explain=explain)
            except JsonError as exc:
                _skip(number, str(exc))
                continue
            except UpdateError as exc:
                _skip(number, "; ".join([exc.summary, *map(str, exc.problems)]))
                continue
            for event in events:
                sys.stdout.write(json_line(event.to_json()))
            sys.stdout.flush()


def _skip(number: int, message: str) -> None:
    """Report a skipped line on stderr, escaped (ids and values may hold any text) and cut."""
    shown = safe(message)
    if len(shown) > SHOWN_MESSAGE:
        shown = f"{shown[:SHOWN_MESSAGE]}… ({len(shown) - SHOWN_MESSAGE:,} more characters)"
    click.echo(f"line {number}: skipped: {shown}", err=True)

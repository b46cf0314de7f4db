"""`incentives watch`: JSON Lines updates in, JSON Lines verdict-change events out."""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO

import click

from ..engine import InputError, PolicySet
from ..engine.reactive import (
    ReactiveCompileError,
    ReactiveSession,
    UpdateError,
    unavailable_reason,
)
from ..engine.reference.evaluate import default_as_of
from .main import (
    as_of_option,
    main,
    policies_option,
    user_errors,
)


@main.command()
@click.argument("updates", type=click.File("r", encoding="utf-8"), default="-")
@policies_option
@as_of_option
@click.option(
    "--explain/--no-explain",
    default=False,
    help="Attach the reference evaluator's explanation to every event.",
)
@user_errors
def watch(updates: IO[str], policies_dir: Path | None, as_of: date | None, explain: bool) -> None:
    """Follow enterprise updates (JSON Lines from UPDATES or stdin) and print an event, as JSON
    Lines, each time a policy's verdict for an enterprise changes.

    \b
    One update per line, exactly one change each:
      {"enterprise": "E1", "profile": {...}}          replace the whole profile
      {"enterprise": "E1", "set": {"employees": 120}}  merge fields
      {"enterprise": "E1", "retract": ["financials.2025.revenue"]}
      {"enterprise": "E1", "remove": true}
    A malformed line is reported on stderr with its number and skipped.
    """
    reason = unavailable_reason()
    if reason is not None:
        raise InputError(
            f"incentives watch needs durable_rules, which is unavailable here: {reason}"
        )
    policy_set = PolicySet(policies_dir)
    try:
        session = ReactiveSession(policy_set, as_of or default_as_of())
    except ReactiveCompileError as exc:
        raise InputError(f"the policy set cannot run on durable_rules: {exc}") from None
    with session:
        for number, line in enumerate(updates, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line, parse_float=Decimal)
                events = session.apply(data, explain=explain)
            except json.JSONDecodeError as exc:
                _skip(number, f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            except UpdateError as exc:
                _skip(number, "; ".join([exc.summary, *map(str, exc.problems)]))
                continue
            for event in events:
                sys.stdout.write(json.dumps(event.to_json(), ensure_ascii=False) + "\n")
            sys.stdout.flush()


def _skip(number: int, message: str) -> None:
    click.echo(f"line {number}: skipped: {message}", err=True)

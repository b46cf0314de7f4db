"""`incentives watch`: JSON Lines updates in, JSON Lines verdict-change events out."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import BinaryIO

import click

from ..engine import InputError, PolicySet
from ..engine.model.jsonio import JsonError, load_json
from ..engine.model.streams import numbered_lines
from ..engine.model.textio import check_encoding, printable
from ..engine.reactive import (
    ReactiveCompileError,
    ReactiveSession,
    UpdateError,
    unavailable_reason,
)
from ..engine.reference.evaluate import default_as_of
from .main import as_of_option, main, policies_option

SHOWN_MESSAGE = 2_000  # characters of a skipped line's message shown on stderr


@main.command()
@click.argument("updates", type=click.File("rb"), default="-")
@policies_option
@as_of_option
@click.option("--encoding", metavar="NAME",
              help="Encoding of the updates (default UTF-8, or what a byte-order mark says).")  # fmt: skip
@click.option(
    "--explain/--no-explain",
    default=False,
    help="Attach the reference evaluator's explanation to every event.",
)
def watch(
    updates: BinaryIO, policies_dir: Path | None, as_of: date | None, encoding: str | None,
    explain: bool,
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
    if reason is not None:
        raise InputError(
            f"incentives watch needs durable_rules, which is unavailable here: {reason}"
        )
    if encoding is not None:
        check_encoding(encoding)
    policy_set = PolicySet(policies_dir)
    try:
        session = ReactiveSession(policy_set, as_of or default_as_of())
    except ReactiveCompileError as exc:
        raise InputError(f"the policy set cannot run on durable_rules: {exc}") from None
    with session:
        for number, text, problem in numbered_lines(updates, encoding):
            if problem is None and not text.strip(" \t\r\n"):
                continue
            try:
                if problem is not None:
                    raise UpdateError(problem)
                events = session.apply(load_json(text), explain=explain)
            except JsonError as exc:
                _skip(number, str(exc))
                continue
            except UpdateError as exc:
                _skip(number, "; ".join([exc.summary, *map(str, exc.problems)]))
                continue
            for event in events:
                sys.stdout.write(_json_line(event.to_json()))
            sys.stdout.flush()


# Characters that end a line for many readers (Python's splitlines, editors) although JSON lets
# them stand in a string: escaped, so that every event stays on one line.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _json_line(data: object) -> str:
    return json.dumps(data, ensure_ascii=False).translate(_LINE_BREAKS) + "\n"


def _skip(number: int, message: str) -> None:
    """Report a skipped line on stderr, escaped (ids and values may hold any text) and cut."""
    shown = printable(message)
    if len(shown) > SHOWN_MESSAGE:
        shown = f"{shown[:SHOWN_MESSAGE]}… ({len(shown) - SHOWN_MESSAGE:,} more characters)"
    click.echo(f"line {number}: skipped: {shown}", err=True)

"""`incentives prop`: property-test every policy of a rule set against the built-in invariants
and print a shrunk counterexample profile for each failure."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import click

from ..engine import InputError, PolicySet
from .main import EXIT_INPUT, main


@main.command("prop")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--examples", default=100, show_default=True, type=click.IntRange(1, 1_000_000),
    help="Generated scenarios per policy (and per search after a failure).",
)  # fmt: skip
@click.option(
    "--seed", type=int, default=None, help="Seed of the search; the same seed repeats a run."
)
@click.option(
    "--policy", "policy_ids", multiple=True, metavar="ID", help="Only this policy (repeatable)."
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Also write each counterexample profile into this directory.",
)  # fmt: skip
def prop(
    directory: Path | None, examples: int, seed: int | None, policy_ids: tuple[str, ...],
    out: Path | None,
) -> None:  # fmt: skip
    """Property-test the policies of DIRECTORY (default: the bundled library): determinism,
    soundness of unknowns, explanations, amounts and caps, exclusive stacking, declared
    monotonicity, effective dates. Exit status 1 if any invariant breaks."""
    try:
        from ..engine.testing import INVARIANTS, find_counterexamples, profile_yaml
    except ImportError:  # pragma: no cover - depends on the installation
        click.echo(
            "Error: `incentives prop` needs hypothesis: pip install 'incentives[testing]'", err=True
        )
        sys.exit(EXIT_INPUT)
    if out is not None:  # before the search, not after it found something to write
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"--out {out}: cannot create the directory: {exc.strerror or exc}") from None
    policy_set = PolicySet(directory)
    chosen = [policy_set.get(pid).id for pid in policy_ids] or [p.id for p in policy_set.policies]
    run_seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
    where = str(directory) if directory is not None else "the bundled library"
    click.echo(
        f"prop: {len(chosen)} policies of {where} × {len(INVARIANTS)} invariants, "
        f"{examples} examples each, --seed {run_seed}"
    )
    failures = 0
    for policy_id in chosen:
        found = find_counterexamples(policy_set, policy_id, examples, run_seed)
        if not found:
            click.echo(f"  ok    {policy_id}")
        for failure in found:
            failures += 1
            day = failure.scenario.as_of.isoformat()
            dir_option = f" --policies {directory}" if directory is not None else ""
            name = f"{policy_id}.{failure.invariant}.yaml"
            command = f"incentives explain {name} {policy_id} --as-of {day}{dir_option}"
            text = profile_yaml(
                {
                    "name": f"counterexample: {failure.invariant} of {policy_id}",
                    **failure.scenario.data,
                },
                comment=f"{failure.invariant} broken by {policy_id} on {day}: {failure.message}\n"
                f"reproduce: {command}",
            )
            click.echo(
                f"  FAIL  {policy_id}  invariant {failure.invariant}\n        {failure.message}"
            )
            click.echo(f"        reproduce: {command}")
            if out is not None:
                (out / name).write_text(text, encoding="utf-8")
                click.echo(f"        written to {out / name}")
            click.echo("        counterexample profile:")
            click.echo("".join(f"          {line}\n" for line in text.splitlines()), nl=False)
    click.echo(f"prop: {failures} failure(s)" if failures else "prop: all invariants hold")
    if failures:
        sys.exit(1)

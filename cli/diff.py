"""`incentives diff`: what the candidate policy directory changes, policy by policy, from the
plans (`engine.check.diff.diff_sets`)."""

from __future__ import annotations

from pathlib import Path

import click

from ..engine import PolicySet
from ..engine.check.diff import SetDiff, diff_sets
from .main import main
from .render import json_text, safe

base_option = click.option(
    "--base", "base_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Policy directory as it is (default: the bundled library).",
)  # fmt: skip
candidate_option = click.option(
    "--candidate", "candidate_dir", required=True,
    type=click.Path(file_okay=False, path_type=Path), help="Policy directory as proposed.",
)  # fmt: skip


@main.command()
@base_option
@candidate_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def diff(base_dir: Path | None, candidate_dir: Path, fmt: str) -> None:
    """What the --candidate policy directory changes against --base, policy by policy, read
    from the loaded rules (thresholds, bands, amounts, dates, zones, provenance), not the text."""
    changes = diff_sets(PolicySet(base_dir), PolicySet(candidate_dir))
    if fmt == "json":
        click.echo(json_text(changes.to_json()))
        return
    for line in diff_text(changes).splitlines():  # each line escaped, none run together
        click.echo(safe(line))


def diff_text(changes: SetDiff) -> str:
    counts = ", ".join(f"{n} {kind}" for kind, n in changes.counts.items())
    lines = [f"policies: {counts}"]
    for policy in changes.policies:
        if policy.kind == "unchanged":
            continue
        where = f"{policy.file}:{policy.line}" if policy.line else policy.file
        lines.append(f"\n{policy.kind} {policy.policy_id} ({where})")
        for change in policy.changes:
            lines.append(f"  {change.aspect}:")
            lines += [f"    {line}" for line in change.lines()]
    unread = [c for c in changes.facts if not any(c in p.changes for p in changes.policies)]
    for change in unread:
        lines.append(f"\n{change.aspect} (read by no policy)")
        lines += [f"    {line}" for line in change.lines()]
    return "\n".join(lines) + "\n"

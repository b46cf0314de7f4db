"""The README's tours are what the commands print: every ```text block that runs
`incentives … examples/…` is compared with a real run of that command (as `incentives` prints
it without a terminal, 120 columns), line by line. A block may leave lines out only where it
says so, with a line `…`; everything else must be there, in order and contiguous."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from incentives.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```text\n\$ (incentives [^\n]*examples/[^\n]*)\n(.*?)```", re.S)
OMITTED = "…"


def tours() -> list[tuple[str, list[str]]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [(m.group(1), m.group(2).rstrip("\n").split("\n")) for m in BLOCK.finditer(text)]


def segments(shown: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    for line in shown:
        if line == OMITTED:
            parts.append([])
        else:
            parts[-1].append(line.rstrip())
    return [p for p in parts if p]


def find(real: list[str], part: list[str], start: int) -> int:
    """Where `part` starts in `real` at or after `start`, contiguous; -1 if nowhere."""
    for at in range(start, len(real) - len(part) + 1):
        if real[at : at + len(part)] == part:
            return at
    return -1


def test_the_readme_has_tours() -> None:
    assert len(tours()) >= 2


@pytest.mark.parametrize(("command", "shown"), tours(), ids=lambda x: x if isinstance(x, str) else "")
def test_readme_tour_is_what_the_command_prints(command: str, shown: list[str]) -> None:
    args = shlex.split(command)[1:]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    real = [line.rstrip() for line in result.stdout.split("\n")]
    position = 0
    for index, part in enumerate(segments(shown)):
        found = find(real, part, position)
        assert found >= 0, (
            f"README block of `{command}` drifted from the command's output near:\n"
            + "\n".join(part[:5])
            + "\nregenerate it from a real run (lines may be left out only with a line '…')"
        )
        if index == 0:
            assert found == 0, "the block must start where the output starts"
        position = found + len(part)

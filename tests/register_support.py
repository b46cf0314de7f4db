"""What the register and stream tests share: a one-policy set (screening costs little, so many
inputs fit in the time budget), running `screen` and `watch` through the real CLI with the checks
every run must pass, and reading result files back."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from conftest import write_policy

from incentives.cli.main import main

AS_OF = "2026-11-24"
POLICY_ID = "test.io.award"
SMALL_POLICY = f"""\
    id: test.io
    title: 测试
    title_en: test
    issuer: 测试
    provenance: illustrative
    zones: [national]
    policies:
      - id: {POLICY_ID}
        title: 十人以上奖励
        title_en: award from ten staff
        source: {{article: 第一条, provenance: illustrative}}
        when: {{fact: employees, ge: 10人}}
        benefit: {{grant: {{amount: 10万元}}, zh: 奖励10万元, en: award}}
"""
SECONDS_PER_INPUT = 30  # generous for a loaded 2-core CI machine; typical runs take a fraction


def small_policies(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    write_policy(directory, "award.yaml", SMALL_POLICY)
    return directory


@dataclass
class Run:
    code: int
    stdout: bytes
    stderr: str
    seconds: float


def invoke(args: list[str], stdin: bytes | None = None) -> Run:
    """The CLI in this process, with what must hold for any input: exit status 0, 1 or 2, no
    traceback, no exception escaping, a bounded time."""
    start = time.perf_counter()
    result: Result = CliRunner().invoke(main, args, input=stdin)
    seconds = time.perf_counter() - start
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not escaped, f"{args}: {result.exception!r}"
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.output
    assert seconds < SECONDS_PER_INPUT, (args, seconds)
    return Run(result.exit_code, result.stdout_bytes, result.stderr, seconds)


def screen(register: Path, policies: Path | None, *extra: str) -> Run:
    args = ["screen", str(register), "--as-of", AS_OF, *extra]
    return invoke(args + (["--policies", str(policies)] if policies is not None else []))


def result_rows(path: Path | bytes, fmt: str) -> list[dict[str, Any]]:
    """The rows of a result file (or of standard output's bytes) as dictionaries."""
    data = path if isinstance(path, bytes) else path.read_bytes()
    if fmt == "parquet":
        import polars as pl

        return pl.read_parquet(io.BytesIO(data)).to_dicts()
    text = data.decode("utf-8")
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    return [{**r, "row": int(r["row"])} for r in csv.DictReader(io.StringIO(text))]


# What a terminal may act on: C0 controls (ESC starts escape sequences), DEL and C1 controls,
# bidirectional marks, embeddings, overrides and isolates, and the Unicode line separators.
_ACTIVE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def terminal_safe(text: str) -> bool:
    """Nothing in `text` but its line breaks could act on a terminal (messages are escaped)."""
    return _ACTIVE.search(text) is None


def leftovers(directory: Path) -> list[str]:
    """Temporary result files left behind (there must never be any)."""
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))

"""`incentives watch`: JSON Lines in, change events out, flushed as they happen."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import IO

import pytest
from click.testing import CliRunner

from incentives.cli.main import main
from incentives.engine.reactive import unavailable_reason

needs_durable = pytest.mark.skipif(
    unavailable_reason() is not None and sys.version_info >= (3, 13),
    reason="durable-rules does not import on Python >= 3.13",
)

CIT = "national.small-low-profit.cit"
FIRM = {
    "zone": "taiyuan",
    "restricted_industry": False,
    "workforce": 120,
    "financials": {"2025": {"taxable_income": "200万元", "total_assets": "3000万元"}},
}


@needs_durable
@pytest.mark.parametrize("engine", ["index", "durable"])
def test_watch_prints_events_and_skips_malformed_lines(engine: str) -> None:
    lines = [
        json.dumps({"enterprise": "E1", "profile": FIRM}),
        "{not json",
        json.dumps({"enterprise": "E1", "set": {"workforce": -1}}),
        "",
        json.dumps({"enterprise": "E1", "set": {"workforce": 400}}),
        json.dumps(["a list"]),
        json.dumps({"enterprise": "E1", "retract": ["workforce"]}),
    ]
    result = CliRunner().invoke(
        main, ["watch", "--engine", engine, "--as-of", "2026-11-24"], input="\n".join(lines)
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["before"], e["after"]) for e in events if e["policy_id"] == CIT] == [
        ("undetermined", "eligible"),
        ("eligible", "ineligible"),
        ("ineligible", "undetermined"),
    ]
    assert all(e["enterprise"] == "E1" and e["as_of"] == "2026-11-24" for e in events)
    errors = result.stderr.splitlines()
    assert [e.split(":")[0] for e in errors] == ["line 2", "line 3", "line 6"]
    assert "invalid JSON" in errors[0] and "greater than or equal to 0" in errors[1]


@needs_durable
def test_watch_flushes_each_event_before_the_next_line_arrives() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from incentives.cli.main import main; main()",
            "watch",
            "--as-of",
            "2026-11-24",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps({"enterprise": "E1", "profile": FIRM}) + "\n")
    process.stdin.flush()
    assert next_event(process.stdout, CIT)["after"] == "eligible"  # while stdin is still open
    process.stdin.write(json.dumps({"enterprise": "E1", "set": {"workforce": 999}}) + "\n")
    process.stdin.close()
    assert next_event(process.stdout, CIT)["after"] == "ineligible"
    assert process.wait(timeout=30) == 0


def next_event(stream: IO[str], policy_id: str) -> dict[str, str]:
    """Read events until one for `policy_id` (other policies change too)."""
    while True:
        event: dict[str, str] = json.loads(stream.readline())
        if event["policy_id"] == policy_id:
            return event


@needs_durable
def test_watch_reads_a_file_and_explains(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "updates.jsonl"  # type: ignore[operator]
    path.write_text(json.dumps({"enterprise": "E9", "profile": FIRM}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["watch", str(path), "--as-of", "2026-11-24", "--explain"])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    (event,) = [e for e in events if e["policy_id"] == CIT]
    assert event["explanation"]["status"] == "eligible"
    assert all(e["explanation"]["policy_id"] == e["policy_id"] for e in events)


def test_watch_says_plainly_when_durable_rules_is_unavailable() -> None:
    code = (
        "import sys; sys.modules['durable_rules_engine'] = None\n"
        "from incentives.cli.main import main\n"
        "main(['watch', '--engine', 'durable'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], input="", capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "Error: incentives watch --engine durable needs durable_rules"
    )
    assert "Traceback" not in result.stderr
    assert "durable-rules" in result.stderr


@needs_durable
def test_watch_refuses_a_policy_set_durable_cannot_hold(tmp_path: pytest.TempPathFactory) -> None:
    values = ", ".join(str(n) for n in range(401))
    (tmp_path / "p.yaml").write_text(  # type: ignore[operator]
        "id: test.big\ntitle: 大\ntitle_en: big\nissuer: t\nprovenance: illustrative\n"
        "zones: [national]\npolicies:\n  - id: test.big.one\n    title: 一\n    title_en: one\n"
        f"    when: {{fact: employees, in: [{values}]}}\n"
        "    benefit: {service: true, zh: 服务, en: service}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["watch", "--engine", "durable", "--policies", str(tmp_path)], input=""
    )
    assert result.exit_code == 1
    assert "cannot run on durable_rules" in result.stderr and "Traceback" not in result.output

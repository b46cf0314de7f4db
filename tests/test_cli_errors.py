"""Every command's errors are answered the same way, in one place (the command group): bad input
and output that cannot be written exit 1 with one `Error:` message, bad usage exits 2, Ctrl-C
exits 130; and `list --zone` asks the engine which policies apply in a zone."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from register_support import small_policies

from incentives.cli.main import main
from incentives.engine import InputError, PolicySet
from incentives.engine.model.zones import NATIONAL
from incentives.engine.reactive import unavailable_reason

ROOT = Path(__file__).resolve().parent.parent
PROFILE = str(ROOT / "examples" / "jinzhong-hightech.yaml")


@pytest.mark.parametrize(
    "args",
    [
        ["screen", PROFILE],  # not a register format
        ["watch", "--policies", "/nonexistent-dir"],
        ["explain", PROFILE, "no.such.policy"],
        ["list", "--zone", "atlantis"],
        ["test", "/nonexistent-dir"],
    ],
)
def test_input_errors_exit_1_with_one_message(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, input="")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(
    "args",
    [
        ["screen", PROFILE, "--format", "parquet"],  # parquet needs --out
        ["screen", "/nonexistent.csv"],
        ["screen", PROFILE, "--format", "xml"],
        ["screen", PROFILE, "--explain", "two"],
        ["watch", "--as-of", "tomorrow"],
        ["watch", "/nonexistent.jsonl"],
        ["screen", __file__, "--encoding", "x"],
        ["watch", "--encoding", "no-such-codec"],
        ["watch", "--encoding", "rot13"],  # a codec, but not from bytes to text
        ["screen", __file__, "--encoding", "zlib"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, input="")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_standard_output_on_a_full_disk_exits_1_for_any_command() -> None:
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [sys.executable, "-m", "incentives", "list", "--format", "json"],
            stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == "Error: cannot write the output: No space left on device\n"


@pytest.mark.skipif(unavailable_reason() is not None, reason="durable-rules is not available")
def test_interrupting_watch_exits_130(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "incentives", "watch", "--as-of", "2026-11-24",
         "--policies", str(small_policies(tmp_path))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(b'{"enterprise": "E1", "set": {"employees": 50}}\n')  # eligible
    process.stdin.flush()
    assert b"eligible" in process.stdout.readline()  # the session is up, waiting for a line
    time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and stderr.decode().strip() == "Error: interrupted"


def test_policies_in_a_zone_are_the_engine_s_answer(policies: PolicySet) -> None:
    for zone in policies.zones:
        chain = _chain(policies, zone)
        expected = {p.id for p in policies.policies if NATIONAL in p.zones or p.zones & chain}
        assert {p.id for p in policies.policies_in(zone)} == expected, zone
        if zone in ("jinzhong-dz", "taiyuan", NATIONAL):  # the command prints what it is given
            listed = CliRunner().invoke(main, ["list", "--zone", zone, "--format", "json"])
            assert {p["id"] for p in json.loads(listed.stdout)} == expected
    assert {p.id for p in policies.policies_in("jinzhong-dz")} > {
        p.id for p in policies.policies_in(NATIONAL)
    }
    with pytest.raises(InputError, match=r"unknown zone 'atlantis'; known zones: .*taiyuan"):
        policies.policies_in("atlantis")


def _chain(policies: PolicySet, zone: str) -> set[str]:
    """The zone and the zones it lies in, walked here from the parents (the test's own oracle;
    a zone may have several)."""
    found: set[str] = set()
    todo = [zone]
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            parent = policies.zones[current].parent
            todo += [] if parent is None else [parent] if isinstance(parent, str) else list(parent)
    return found

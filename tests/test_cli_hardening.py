"""The CLI's own options and output under hostile input: `--as-of` takes exactly the form it
promises, `--encoding` reads a GBK profile, text from a profile cannot drive the terminal or
inject Markdown, output that cannot be written ends with one line (or quietly, for a closed
pipe), impossible statements are flagged beside the verdicts, and commands whose extra is not
installed say which one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from incentives.cli.main import main
from incentives.cli.render import md_cell, safe

ROOT = Path(__file__).resolve().parent.parent
JINZHONG = str(ROOT / "examples" / "jinzhong-hightech.yaml")
AS_OF = ["--as-of", "2026-11-24"]
HOSTILE_NAME = "\x1b]0;PWNED\x07Evil\x1b[2J\x9b2J | co\n| injected | row | x |\u202eboom`"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))




@pytest.mark.parametrize("value", ["2026-11-24", "2024-02-29"])
def test_as_of_takes_iso_dates(value: str) -> None:
    assert run("check", JINZHONG, "--as-of", value, "--format", "json").exit_code == 0


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2026-02-30", "February 2026 has 28 days"),
        ("2025-02-29", "February 2025 has 28 days"),
        ("20261124", "YYYY-MM-DD"),
        ("2026-W48-2", "YYYY-MM-DD"),
        ("2026/11/24", "write it as 2026-11-24"),
        ("24/11/2026", "ambiguous"),
        ("2026-11-24T00:00", "YYYY-MM-DD"),
        ("", "YYYY-MM-DD"),
    ],
)
def test_as_of_refuses_every_other_form_as_usage(value: str, fragment: str) -> None:
    for command in (["check", JINZHONG], ["validate"]):
        result = run(*command, "--as-of", value)
        assert result.exit_code == 2, result.output
        assert fragment in result.output and "Traceback" not in result.output


def _gbk_profile(tmp_path: Path) -> Path:
    path = tmp_path / "gbk.yaml"
    text = Path(JINZHONG).read_text(encoding="utf-8")
    path.write_bytes(text.encode("gb18030"))
    return path


def test_encoding_reads_a_gbk_profile(tmp_path: Path) -> None:
    path = _gbk_profile(tmp_path)
    refused = run("check", str(path), *AS_OF)
    assert refused.exit_code == 1 and "--encoding gb18030" in refused.output
    checked = run("check", str(path), *AS_OF, "--encoding", "gb18030", "--format", "json")
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output) == json.loads(
        run("check", JINZHONG, *AS_OF, "--format", "json").output
    )
    explained = run("explain", str(path), "national.hnte.certification", *AS_OF, "--encoding", "GBK")
    assert explained.exit_code == 0, explained.output
    for name in ("klingon", "\x00", ""):
        unknown = run("check", str(path), "--encoding", name)
        assert unknown.exit_code == 2 and "unknown encoding" in unknown.output


def test_a_directory_as_profile_is_a_user_error(tmp_path: Path) -> None:
    result = run("check", str(tmp_path))
    assert result.exit_code == 1 and "is a directory" in result.output


def test_an_unknown_zone_option_is_named(tmp_path: Path) -> None:
    result = run("check", JINZHONG, "--zone", "atlantis")
    assert result.exit_code == 1 and "--zone: unknown zone 'atlantis'" in result.output


def _hostile_profile(tmp_path: Path) -> Path:
    path = tmp_path / "evil.json"
    data = {"name": HOSTILE_NAME, "zone": "jinzhong-dz", "employees": 10,
            "facts": {"hnte_innovation_score": 75}}  # fmt: skip
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_profile_text_cannot_drive_the_terminal(tmp_path: Path, fmt: str) -> None:
    result = run("check", str(_hostile_profile(tmp_path)), *AS_OF, "--format", fmt, "--explain")
    assert result.exit_code == 0, result.output
    for char in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert char not in result.output
    if fmt == "json":  # the same text, escaped as JSON
        assert json.loads(result.output)["profile"]["name"] == HOSTILE_NAME
        return
    assert "\\x1b]0;PWNED\\x07Evil" in result.output or "\\\\x1b]0;PWNED" in result.output


def test_profile_text_cannot_inject_markdown_rows(tmp_path: Path) -> None:
    hostile = _hostile_profile(tmp_path)
    benign = tmp_path / "benign.json"  # the same profile under a harmless name
    benign.write_text(json.dumps({**json.loads(hostile.read_text(encoding="utf-8")), "name": "x"}))
    plain = run("check", str(benign), *AS_OF, "--format", "markdown").output
    result = run("check", str(hostile), *AS_OF, "--format", "markdown")
    rows = [line for line in result.output.splitlines() if line.startswith("|")]
    assert not any("injected" in row for row in rows)
    heading = result.output.splitlines()[0]
    assert heading.startswith("# ") and "injected" in heading and "\\|" in heading
    assert len(rows) <= len([line for line in plain.splitlines() if line.startswith("|")])


def test_error_messages_cannot_drive_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text('name: "\\e]0;PWNED\\a"\nzone: atlantis\n', encoding="utf-8")
    result = run("check", str(path))
    assert result.exit_code == 1 and "\x1b" not in result.output
    assert "\\x1b]0;PWNED\\x07" in result.output and "p.yaml:2 zone" in result.output


def test_safe_and_md_cell() -> None:
    assert safe("a\x1bb\x00c\u202ed") == "a\\x1bb\\x00c\\u202ed"
    assert safe("中文 ok") == "中文 ok"
    # a backslash of the escape is itself escaped, so Markdown shows `\x0a`
    assert md_cell("a|b\nc<script>") == "a\\|b\\\\x0ac&lt;script&gt;"


def test_implausible_statements_are_flagged_beside_the_verdicts(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nzone: taiyuan\nregistration_date: 2027-01-01\n", encoding="utf-8")
    table = run("check", str(path), *AS_OF)
    assert table.exit_code == 0
    assert f"warning: {path}:3 registration_date:" in table.output
    data = json.loads(CliRunner().invoke(main, ["check", str(path), *AS_OF, "--format", "json"]).stdout)
    assert len(data["warnings"]) == 1 and "did not exist yet" in data["warnings"][0]["message"]
    assert json.loads(run("check", JINZHONG, *AS_OF, "--format", "json").output)["warnings"] == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_ends_with_one_line() -> None:
    with open("/dev/full", "wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "incentives.cli.main", "check", JINZHONG, *AS_OF, "--explain"],
            stdout=full, stderr=subprocess.PIPE, timeout=120,
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines() == [
        "Error: cannot write the output: No space left on device"
    ]


def test_a_closed_pipe_ends_quietly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "incentives.cli.main", "check", JINZHONG, *AS_OF, "--explain"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    error = process.stderr.read()
    assert process.wait(timeout=120) in (0, 1)
    assert error == b""


_BLOCK_EXTRAS = (
    "import sys\n"
    "for name in ('polars', 'pyarrow', 'hypothesis', 'durable', 'durable_rules_engine'):\n"
    "    sys.modules[name] = None\n"
    "from incentives.cli.main import main\n"
    "main()\n"
)


def test_without_the_batch_extra_screen_says_which_to_install(tmp_path: Path) -> None:
    def bare(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(  # type: ignore[call-overload, no-any-return]
            [sys.executable, "-c", _BLOCK_EXTRAS, *args], capture_output=True, timeout=120
        )

    listed = bare("--help")
    assert listed.returncode == 0 and b"screen" in listed.stdout, listed.stderr
    assert bare("screen", "--help").returncode == 0
    ran = bare("screen", str(tmp_path / "register.csv"), "--out", str(tmp_path / "o.csv"))
    assert ran.returncode == 1
    assert ran.stderr.decode().strip().splitlines() == [
        "Error: incentives screen needs the 'batch' extra, which is not installed "
        "(no module 'polars'): pip install 'incentives[batch]'"
    ]


def test_prop_out_that_cannot_be_a_directory_is_refused_first(tmp_path: Path) -> None:
    pytest.importorskip("hypothesis")
    (tmp_path / "file").write_text("x")
    result = run("prop", "--examples", "1", "--out", str(tmp_path / "file" / "sub"))
    assert result.exit_code == 1 and "--out" in result.output and "Traceback" not in result.output

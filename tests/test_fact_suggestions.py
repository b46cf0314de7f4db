"""A profile's `facts:` key that no policy of the set declares is refused with its file and
line and what was most likely meant: the closest declared names, or for a fact the engine
computes, the profile fields it is computed from; in English and Chinese."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from incentives import PolicySet, parse_profile
from incentives.cli.main import main
from incentives.engine.errors import ProfileError

PROFILE = """\
zone: jinzhong-dz
facts:
  sound_acounting: true
  rd_intensity: 3%
  hnte_core_ip_rol: true
  zzz_unrelated: 1
"""


def _refusal(tmp_path: Path, lang: str) -> str:
    path = tmp_path / "client.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(path), "--as-of", "2026-11-24", "--lang", lang])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    return result.stderr


def test_undeclared_facts_say_what_was_meant_with_file_and_line(tmp_path: Path) -> None:
    out = _refusal(tmp_path, "en")
    assert "client.yaml:3 facts.sound_acounting: not declared in the fact catalogue of this policy set; did you mean sound_accounting?" in out
    assert ("client.yaml:4 facts.rd_intensity: not declared in the fact catalogue of this policy set; rd_intensity "
            "is computed from financials.rd_expense, financials.revenue: state those instead") in out  # fmt: skip
    assert "client.yaml:5 facts.hnte_core_ip_rol: " in out and "did you mean hnte_core_ip_role?" in out
    last = next(line for line in out.splitlines() if "zzz_unrelated" in line)
    assert last.endswith("client.yaml:6 facts.zzz_unrelated: not declared in the fact catalogue of this policy set")


def test_in_chinese(tmp_path: Path) -> None:
    out = _refusal(tmp_path, "zh")
    assert out.startswith("错误：")
    assert "client.yaml:3 facts.sound_acounting: 未在此政策集的事实目录中声明；是否应为 sound_accounting？" in out
    assert "；rd_intensity 由 financials.rd_expense, financials.revenue 计算得出：请填写这些字段" in out


def test_the_library_refuses_alike() -> None:
    try:
        PolicySet().evaluate(parse_profile({"facts": {"sound_acounting": True}}))
    except ProfileError as exc:
        (problem,) = exc.problems
        assert problem.field == "facts.sound_acounting" and "did you mean sound_accounting?" in problem.message
    else:
        raise AssertionError("an undeclared fact was accepted")


def test_under_format_json_the_refusal_is_json(tmp_path: Path) -> None:
    path = tmp_path / "client.yaml"
    path.write_text(PROFILE + "name: \"x\\u009b31m\"\n", encoding="utf-8")
    for lang, meant in (("en", "did you mean sound_accounting?"), ("zh", "是否应为 sound_accounting？")):
        result = CliRunner().invoke(main, ["check", str(path), "--format", "json", "--lang", lang])
        assert result.exit_code == 1 and result.stdout == ""
        error = json.loads(result.stderr)["error"]
        first = error["problems"][0]
        assert (first["file"], first["line"], first["field"]) == (str(path), 3, "facts.sound_acounting")
        assert first["message"].endswith(meant) and error["message"]
        assert "\x9b" not in result.stderr

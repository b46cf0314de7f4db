"""Click's own usage errors follow `--lang` and `INCENTIVES_LANG`, for every command, through
the real CLI: a missing argument, an unknown option or command with its "did you mean", a bad
choice, a bad value; English stays click's wording; the exit status stays 2 (bad usage)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from incentives.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
JINZHONG = str(ROOT / "examples" / "jinzhong-hightech.yaml")
COMMANDS = main.list_commands(click.Context(main))


def _run(args: list[str], env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2, (args, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and result.stdout == ""
    return result


def _required_arguments(name: str) -> list[click.Argument]:
    command = main.get_command(click.Context(main), name)
    assert command is not None
    return [p for p in command.params if isinstance(p, click.Argument) and p.required]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_words_its_usage_errors_in_both_languages(name: str) -> None:
    # an unknown option, with the did-you-mean of click's
    zh = _run([name, "--lnag", "x", "--lang", "zh"]).stderr
    assert "错误：没有选项 --lnag。是否应为 '--lang'？" in zh and f"用法：main {name}" in zh
    assert f"帮助：main {name} --help" in zh and "Error" not in zh and "Usage" not in zh
    en = _run([name, "--lnag", "x", "--lang", "en"]).stderr
    assert "Error: No such option" in en and "--lnag" in en and "Did you mean '--lang'?" in en
    assert f"Usage: main {name}" in en and "错误" not in en
    # a bad choice
    zh = _run([name, "--lang", "fr"], env={"INCENTIVES_LANG": "zh"}).stderr
    assert "错误：'--lang' 的值无效：'fr' 不是可选值之一（'zh', 'en'）。" in zh
    assert "Invalid value for '--lang'" in _run([name, "--lang", "fr"], env={"INCENTIVES_LANG": "en"}).stderr
    # a missing argument
    for argument in _required_arguments(name)[:1]:
        shown = argument.make_metavar(click.Context(main))
        assert f"错误：缺少参数 {shown}。" in _run([name], env={"INCENTIVES_LANG": "zh"}).stderr
        assert f"Error: Missing argument '{shown}'." in _run([name, "--lang", "en"]).stderr


@pytest.mark.parametrize(
    ("args", "zh", "en"),
    [
        (["chek"], "错误：没有命令 'chek'。是否应为 'check'", "Error: No such command 'chek'. Did you mean 'check'"),
        (["chek", "--lang=zh"], "没有命令 'chek'", None),
        (["check", JINZHONG, "--tax-year", "abc"], "'--tax-year' 的值无效：'abc' 不是有效的整数。",
         "Invalid value for '--tax-year': 'abc' is not a valid integer"),
        (["check", JINZHONG, "--tax-year", "1800"], "1800 不在范围 1949<=x<=2200 之内。",
         "1800 is not in the range 1949<=x<=2200."),
        (["check", JINZHONG, "--as-of", "2026-13-01"], "'2026-13-01' 不是真实日期: 没有 13 月",
         "'2026-13-01' is not a real date: there is no month 13"),
        (["check", JINZHONG, "--format", "xml"], "'xml' 不是可选值之一（'table', 'json', 'markdown', 'html'）",
         "'xml' is not one of 'table', 'json', 'markdown', 'html'."),
        (["check", JINZHONG, "extra"], "错误：多余的参数（extra）", "Got unexpected extra argument (extra)"),
        (["check", JINZHONG, "--all=3"], "错误：选项 --all 不接受值。", "Option '--all' does not take a value."),
        (["schema", "profil"], "'profil' 不是可选值之一", "'profil' is not one of"),
        (["validate", str(ROOT / "README.md")], "是文件，应为目录。", "is a file."),
    ],
)
def test_usage_errors_of_click_in_chinese(args: list[str], zh: str, en: str | None) -> None:
    assert zh in _run([*args, "--lang", "zh"] if "--lang=zh" not in args else args).stderr
    assert zh in _run(args, env={"INCENTIVES_LANG": "zh"}).stderr
    if en is not None:
        english = _run(args, env={"INCENTIVES_LANG": "en"}).stderr
        assert en in english and "错误" not in english


def test_bad_input_says_error_in_chinese_and_exits_1() -> None:
    result = CliRunner().invoke(main, ["check", "/nonexistent/p.yaml", "--lang", "zh"])
    assert result.exit_code == 1 and result.stderr.startswith("错误：无法读取画像"), result.output
    result = CliRunner().invoke(main, ["check", "/nonexistent/p.yaml", "--lang", "en"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: cannot read profile")


def test_the_group_takes_lang_for_every_command() -> None:
    """`incentives --lang zh CMD`: the command's output and errors in that language; its own
    `--lang` wins over the group's, and the group's over INCENTIVES_LANG."""
    runner = CliRunner()
    day = ["--as-of", "2026-11-24"]
    zh = runner.invoke(main, ["--lang", "zh", "check", JINZHONG, *day], env={"INCENTIVES_LANG": "en"})
    assert zh.exit_code == 0 and "┃ 结论" in zh.stdout and "┃ Status" not in zh.stdout, zh.output
    own = runner.invoke(main, ["--lang", "zh", "check", JINZHONG, *day, "--lang", "en"])
    assert own.exit_code == 0 and "┃ Status" in own.stdout, own.output
    error = _run(["--lang", "zh", "check", JINZHONG, "--bogus"], env={"INCENTIVES_LANG": "en"})
    assert "错误：没有选项 --bogus。" in error.stderr

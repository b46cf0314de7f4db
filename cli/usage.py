"""Click's own usage errors (a missing argument, an unknown option or command with its "did you
mean", a bad choice, a bad value) and the `Error:` line of every refusal, in the language of
`--lang` or `INCENTIVES_LANG`. Click words them in English before the command's `--lang` has
been read (an unknown option stops the parse), so the language is read from the arguments
themselves (`language_of`); the wording goes through the one table of `messages`. English
output is click's own, unchanged."""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import get_close_matches
from typing import IO, Any

import click

from .i18n import default_lang
from .messages import translated

LANGS = ("zh", "en")


def language_of(args: Sequence[str]) -> str:
    """The language the command line asks for (`--lang zh` or `--lang=zh`, the last one
    wins, as click reads it), else `INCENTIVES_LANG` or the locale's."""
    return option_value(args, "--lang", LANGS) or default_lang()


def option_value(args: Sequence[str], name: str, choices: Sequence[str]) -> str | None:
    """The last value among `choices` the arguments give option `name`, read before click
    parses them (a usage error can stop the parse before the option is read)."""
    chosen = None
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == name and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith(f"{name}="):
            value = arg.removeprefix(f"{name}=")
        else:
            continue
        if value in choices:
            chosen = value
    return chosen


def _remember(ctx: click.Context, __: click.Parameter, value: str | None) -> str | None:
    """Kept in the context's shared `meta`, so that errors follow it (`cli.main._Commands`)."""
    if value is not None:
        ctx.meta["lang"] = value
    return value


# `--lang`, wherever it is declared
LANG_ATTRS: dict[str, Any] = {
    "type": click.Choice(LANGS), "default": None, "callback": _remember, "is_eager": True,
}
# for a command whose output has no language (JSON, YAML, ids): its errors follow it
ERRORS_LANG = click.Option(
    ["--lang"], expose_value=False, **LANG_ATTRS,
    help="Language of error messages (default: INCENTIVES_LANG or the locale).",
)  # fmt: skip


def with_lang(command: click.Command) -> click.Command:
    """`command`, taking `--lang` for its errors if it does not take it for its output."""
    if not any(param.name == "lang" for param in command.params):
        command.params.append(ERRORS_LANG)
    return command


def no_such_command(name: str, known: Sequence[str], ctx: click.Context) -> click.UsageError:
    """Click's "no such command", with the closest commands (click suggests only among the
    commands already imported, and versions before 8.4 none)."""
    close = get_close_matches(name, known)
    message = f"No such command {name!r}."
    if close:
        message += f" Did you mean {', '.join(repr(c) for c in close)}?"
    return click.UsageError(message, ctx)


def _error_line(message: str, lang: str) -> str:
    return f"错误：{message}" if lang == "zh" else f"Error: {message}"


class LocalisedUsageError(click.UsageError):
    """A usage error of click's, worded in `lang`: its message, the usage line and the hint."""

    def __init__(self, error: click.UsageError, lang: str) -> None:
        super().__init__(translated(error.format_message(), lang), error.ctx)
        self.lang = lang

    def show(self, file: IO[Any] | None = None) -> None:
        ctx = self.ctx
        if ctx is not None:
            usage = ctx.get_usage().replace("Usage: ", "用法：", 1)
            hint = f"帮助：{ctx.command_path} --help"
            click.echo(f"{usage}\n{hint}\n", file=file, err=True, color=ctx.color)
        click.echo(_error_line(self.format_message(), self.lang), file=file, err=True)


def localised(error: click.UsageError, lang: str) -> click.UsageError:
    """`error` in `lang`; as it is for English."""
    return error if lang != "zh" else LocalisedUsageError(error, lang)


class LocalisedError(click.ClickException):
    """Bad input (exit status 1): one message, its `Error:` line in `lang`."""

    exit_code = 1

    def __init__(self, message: str, lang: str = "en") -> None:
        super().__init__(message)
        self.lang = lang

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(_error_line(self.format_message(), self.lang), file=file, err=True)


class JsonError(LocalisedError):
    """Bad input under `--format json`: one JSON object on stderr, for programs, with every
    problem's file, line and field (`{"error": {"message", "problems": [...]}}`)."""

    def __init__(self, message: str, problems: Sequence[dict[str, Any]], lang: str) -> None:
        super().__init__(message, lang)
        self.problems = list(problems)

    def show(self, file: IO[Any] | None = None) -> None:
        import json

        body = {"error": {"message": self.format_message(), "problems": self.problems}}
        text = json.dumps(body, ensure_ascii=False)
        # characters a terminal may act on stay escaped (JSON escapes only those below 0x20)
        text = _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
        click.echo(text, file=file, err=True)


_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")

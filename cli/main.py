"""`incentives`: check enterprise profiles against incentive policies, and explain.

Exit codes: 0 the command ran; 1 bad input (policy files, profile, register, unknown policy id)
or output that cannot be written; 2 bad usage (unknown option, malformed argument); 130
interrupted (Ctrl-C). Every command's errors are turned into these in one place,
`_Commands.invoke`.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

# Only what declaring the commands needs is imported here: the engine's models, the loader,
# the renderers and rich are imported by the commands that use them, so that `--help` (and
# a usage error) starts without them.
from ..engine.errors import InputError
from ..engine.model.textio import check_encoding
from ..engine.model.years import FISCAL_YEARS
from . import usage
from .i18n import GROUP_LANG, default_lang
from .messages import translated
from .usage import LocalisedError

if TYPE_CHECKING:
    from rich.console import Console

    from ..engine import PolicySet
    from ..engine.model.profile import Profile
    from ..engine.reference.results import Notice

EXIT_INPUT = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


class UserError(LocalisedError):
    """Bad input, or output that cannot be written: `Error: …` on stderr (`错误：…` under
    `--lang zh`), exit status 1."""

    exit_code = EXIT_INPUT


class Interrupted(click.ClickException):
    """Ctrl-C: exit status 130; a command that writes a file has left no partial file."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        super().__init__("interrupted")


FILE_WIDTH = 120  # the width of the text written to a file or a pipe


def _console() -> Console:
    from rich.console import Console

    width = None if sys.stdout.isatty() else FILE_WIDTH
    return Console(highlight=False, soft_wrap=False, width=width)


def _as_of(_: click.Context, __: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    from ..engine.model.units import UnitError, parse_date

    try:
        return parse_date(value)
    except UnitError as exc:
        raise click.BadParameter(str(exc)) from None


def _encoding(_: click.Context, __: click.Parameter, value: str | None) -> str | None:
    try:
        return None if value is None else check_encoding(value)
    except InputError as exc:
        raise click.BadParameter(exc.summary) from None


as_of_option = click.option(
    "--as-of", callback=_as_of, metavar="YYYY-MM-DD",
    help="Evaluation date: decides which policies are in force and which year is 'last year' (default: today).",
)  # fmt: skip
tax_year_option = click.option(
    "--tax-year", type=click.IntRange(FISCAL_YEARS[0], FISCAL_YEARS[1]), metavar="YYYY",
    help="Tax year (纳税年度) for tax-year preferences (rates, 小型微利, 加计扣除): in force for "
    "it, its figures, certificates valid in it (default: the year before --as-of, the last "
    "tax year that has ended).",
)  # fmt: skip
policies_option = click.option(
    "--policies", "policies_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Directory of policy documents (default: the bundled library).",
)  # fmt: skip


def encoding_option_for(what: str) -> Callable[[Any], Any]:
    """`--encoding NAME` for a command that reads `what`; an unknown name is bad usage."""
    return click.option(
        "--encoding", callback=_encoding, metavar="NAME",
        help=f"Encoding of {what} (default: UTF-8; a byte-order mark is honoured), "
        "e.g. gb18030 for a GBK file saved by Excel.",
    )  # fmt: skip


encoding_option = encoding_option_for("the profile file")

register_argument = click.argument(
    "register", type=click.Path(dir_okay=False, exists=True, allow_dash=True, path_type=Path)
)

register_format_option = click.option(
    "--register-format", type=click.Choice(["jsonl", "csv", "parquet"]),
    help="Format of the register (default: from its extension; for - from its first bytes: "
    "Parquet's magic, JSON Lines when it starts with '{', else CSV).",
)  # fmt: skip


lang_option = click.option(
    "--lang", **usage.LANG_ATTRS,
    help="Language of the output and of error messages (default: INCENTIVES_LANG or the locale).",
)  # fmt: skip


def _load(policies_dir: Path | None) -> PolicySet:
    from ..engine.policyset import PolicySet

    return PolicySet(policies_dir)


def _profile(path: Path, encoding: str | None) -> Profile:
    """The profile at `path`, or on standard input for `-` (YAML, or JSON starting with `{`)."""
    from ..engine.model.profile import load_profile, read_profile

    if str(path) == "-":
        return read_profile(sys.stdin.buffer, encoding=encoding)
    return load_profile(path, encoding=encoding)


def _warn(warnings: Sequence[Notice]) -> None:
    """Implausible statements of the profile, on stderr: the verdicts stand as evaluated."""
    from .render import safe

    for warning in warnings:
        click.echo(safe(f"warning: {warning}"), err=True)


def _extra_missing(name: str, exc: ModuleNotFoundError) -> click.Command:
    """Stands in for a command whose extra is not installed: its help and its run say which
    extra to install, and running it exits 1 with that one line."""
    extra = _EXTRAS.get(name, "dev")
    message = (
        f"incentives {name} needs the '{extra}' extra, which is not installed "
        f"(no module {exc.name!r}): pip install 'incentives[{extra}]'"
    )

    def run(args: tuple[str, ...]) -> None:
        raise click.ClickException(message)  # exit status 1, one line on stderr

    return click.Command(
        name, callback=run, help=message, short_help=f"(needs the '{extra}' extra)",
        params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )  # fmt: skip


_EXTRAS = {"screen": "batch", "impact": "batch", "watch": "reactive", "prop": "testing"}


class _Commands(click.Group):
    """The group of subcommands. Those in `LAZY` live in modules of their own, some importing
    heavy libraries (polars for `screen`, durable_rules for `watch`, hypothesis for `prop` and
    `test`): each is imported only when its command runs or help lists it, so that `check`
    starts fast."""

    LAZY: ClassVar[Mapping[str, tuple[str, str]]] = {
        "diff": ("incentives.cli.diff", "diff"),
        "impact": ("incentives.cli.impact", "impact"),
        "facts": ("incentives.cli.catalogue", "facts"),
        "zones": ("incentives.cli.catalogue", "zones"),
        "prop": ("incentives.cli.prop", "prop"),
        "screen": ("incentives.cli.screen", "screen"),
        "serve": ("incentives.cli.serve", "serve"),
        "test": ("incentives.cli.cases", "test_cases"),
        "watch": ("incentives.cli.watch", "watch"),
    }

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; its errors become click exceptions here, for every command: bad
        input (and a file that cannot be read or written) exits 1 with one message, escaped
        (a name or a path from the input may hold control characters), Ctrl-C exits 130."""
        try:
            return super().invoke(ctx)
        except InputError as exc:
            lang = _lang_of(ctx)
            if ctx.meta.get("json"):
                raise _json_error(exc, lang) from None
            from .render import safe

            lines = translated(exc.render(), lang).split("\n")
            raise UserError("\n".join(safe(line) for line in lines), lang) from None
        except click.UsageError as exc:
            raise usage.localised(exc, _lang_of(ctx)) from None
        except KeyboardInterrupt:
            raise Interrupted() from None
        except OSError as exc:
            if exc.filename is None or exc.errno == errno.EPIPE:
                raise  # a stream that cannot be written: see `main`
            from .render import safe

            raise UserError(safe(f"{exc.filename}: {exc.strerror or exc}"), _lang_of(ctx)) from None

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:  # fmt: skip
        """As click's; the language of errors is read from the arguments first, since a usage
        error can stop the parse before `--lang` is read (`usage.language_of`)."""
        lang = usage.language_of(args)
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise usage.localised(exc, lang) from None
        ctx.meta["lang"] = lang
        ctx.meta["json"] = usage.option_value(args, "--format", ("json",)) is not None
        return ctx

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            raise usage.no_such_command(name, self.list_commands(ctx), ctx)
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, but a lazy command not imported yet is listed by its help read from its
        module's source (`_unimported_help`): listing imports none of them, so `--help` does
        not load Polars. (Its own `--help` and its run still import it, and say which extra
        is missing if one is.)"""
        ctx.meta[_LISTING] = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            del ctx.meta[_LISTING]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, taking `--lang` (`usage.with_lang`)."""
        command = self._command(ctx, cmd_name)
        return None if command is None else usage.with_lang(command)

    def _command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.LAZY:
            return super().get_command(ctx, cmd_name)
        import importlib

        if ctx.meta.get(_LISTING) and self.LAZY[cmd_name][0] not in sys.modules:
            listed = _unimported_help(*self.LAZY[cmd_name])
            if listed is not None:
                return click.Command(cmd_name, help=listed)

        module, attribute = self.LAZY[cmd_name]
        # Taken from the module rather than from this group: under `python -m incentives.cli.main` the
        # module registers it on the group of `incentives.cli.main`, a different object from this one.
        try:
            command = getattr(importlib.import_module(module), attribute)
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.split(".")[0] in ("incentives", "click"):
                raise  # a bug, not a missing extra
            return _extra_missing(cmd_name, exc)
        assert isinstance(command, click.Command)
        return command

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """As click's, and output that cannot be written (a full disk, `> /dev/full`) ends
        with one line and status 1; a closed pipe (`| head`) ends quietly (click's own)."""
        try:
            try:
                return super().main(*args, **kwargs)
            finally:
                sys.stdout.flush()
        except OSError as exc:
            _output_failed(exc)


_LISTING = "incentives.listing"  # in the context's meta while the group lists its commands


def _unimported_help(module: str, attribute: str) -> str | None:
    """The help of the command `attribute` of `module` (its function's docstring, as click
    takes it) read from the module's source without importing it; None if not found there."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == attribute:
            return ast.get_docstring(node)
    return None


def _lang_of(ctx: click.Context) -> str:
    """The language of errors: the command's `--lang`, else what the arguments asked for
    (`_Commands.make_context`), else the default."""
    return str(ctx.meta.get("lang") or default_lang())


def _json_error(exc: InputError, lang: str) -> usage.JsonError:
    """Bad input as JSON (`--format json`): the summary and each problem, in `lang`."""
    problems = [
        {"file": p.file, "line": p.line, "field": p.field, "message": translated(p.message, lang)}
        for p in exc.problems
    ]
    return usage.JsonError(translated(exc.summary, lang), problems, lang)


def _output_failed(exc: OSError) -> None:
    import errno
    import os

    if exc.errno == errno.EPIPE:
        message = None
    else:
        message = f"Error: cannot write the output: {exc.strerror or exc}"
    try:  # nothing more can reach the failed stream; let the interpreter close it quietly
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    if message is not None:
        click.echo(message, err=True)
    sys.exit(EXIT_INPUT)


def _group_lang(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[GROUP_LANG] = ctx.meta["lang"] = value


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="incentives")
@click.option("--lang", type=click.Choice(usage.LANGS), expose_value=False, is_eager=True,
              callback=_group_lang,
              help="Language of every command's output and messages, as each command's own "
                   "--lang (default: INCENTIVES_LANG, else the locale's).")  # fmt: skip
def main() -> None:
    """Check enterprise profiles against incentive policies, with every verdict explained."""


@main.command()
@click.argument("profile", type=click.Path(path_type=Path))
@as_of_option
@tax_year_option
@click.option("--zone", help="Evaluate as if the enterprise were in this zone.")
@policies_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "markdown", "html"]), default="table",
    help="table for the terminal; json for programs (`incentives schema report`); markdown or "
    "html (one self-contained file) for a report to hand over.",
)  # fmt: skip
@lang_option
@click.option(
    "--explain/--no-explain",
    default=False,
    help="Show the evaluated condition tree of each policy.",
)
@click.option(
    "--all", "show_all", is_flag=True,
    help="Also list policies not in force on this date or in this zone.",
)  # fmt: skip
@encoding_option
def check(
    profile: Path, as_of: date | None, tax_year: int | None, zone: str | None,
    policies_dir: Path | None, fmt: str, lang: str | None, explain: bool, show_all: bool,
    encoding: str | None,
) -> None:  # fmt: skip
    """Check PROFILE (YAML or JSON; `-` reads standard input) against every policy: verdict,
    amount, why, what is missing, and the opportunities ranked by value."""
    from .render import Setting, json_text, report_view, write_report

    policy_set = _load(policies_dir)
    if zone is not None and zone not in policy_set.zones:
        known = ", ".join(sorted(policy_set.zones))
        raise InputError(f"--zone: unknown zone {zone!r}; known zones: {known}")
    stated = _profile(profile, encoding)
    report = policy_set.evaluate(stated, as_of, zone=zone, tax_year=tax_year, explain=explain)
    language = lang or default_lang()
    if fmt == "json":
        click.echo(json_text(report.to_json_dict()))
        return
    _warn(report.warnings)
    setting = Setting.of(policy_set, report, versioned=fmt in ("markdown", "html"))
    if fmt == "markdown":
        from .report import report_markdown

        click.echo(report_markdown(report, language, explain, show_all, setting))
    elif fmt == "html":
        from .report import report_html

        click.echo(report_html(report, language, explain, show_all, setting))
    else:
        view = report_view(report, language, explain, show_all, setting)
        write_report(view, sys.stdout, FILE_WIDTH, _console)


@main.command()
@click.argument("profile", type=click.Path(path_type=Path))
@click.argument("policy_id")
@as_of_option
@tax_year_option
@policies_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table")
@lang_option
@encoding_option
def explain(
    profile: Path,
    policy_id: str,
    as_of: date | None,
    tax_year: int | None,
    policies_dir: Path | None,
    fmt: str,
    lang: str | None,
    encoding: str | None,
) -> None:
    """Explain one policy's verdict for PROFILE (`-`: standard input), criterion by criterion."""
    from .render import Setting, json_text, report_view, write_report
    from .report import report_markdown

    policy_set = _load(policies_dir)
    policy_set.get(policy_id)
    stated = _profile(profile, encoding)
    report = policy_set.evaluate(
        stated, as_of, tax_year=tax_year, policy_ids=[policy_id], explain=True
    )
    _warn(report.warnings)
    language = lang or default_lang()
    setting = Setting.of(policy_set, report, versioned=fmt == "markdown")
    if fmt == "json":
        click.echo(json_text(report.results[0].model_dump(mode="json")))
    elif fmt == "markdown":
        click.echo(report_markdown(report, language, True, True, setting))
    else:
        write_report(report_view(report, language, True, True, setting), sys.stdout, FILE_WIDTH, _console)


@main.command("list")
@policies_option
@click.option("--zone", help="Only policies that apply in this zone (national ones included).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@lang_option
def list_policies(policies_dir: Path | None, zone: str | None, fmt: str, lang: str | None) -> None:
    """List the policies with zone, effective dates, provenance and benefit kind."""
    from .render import json_text, policy_summary, print_policy_list

    policy_set = _load(policies_dir)
    chosen = policy_set.policies if zone is None else policy_set.policies_in(zone)
    if fmt == "json":
        click.echo(json_text([policy_summary(p) for p in chosen]))
    else:
        print_policy_list(chosen, lang or default_lang(), _console())


@main.command()
@click.argument("policy_id")
@policies_option
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
def show(policy_id: str, policies_dir: Path | None, fmt: str) -> None:
    """Show one policy: its provenance and its full definition."""
    from ..engine.model.yamlio import dump_yaml
    from .render import json_text, policy_summary

    policy_set = _load(policies_dir)
    cp = policy_set.get(policy_id)
    data = policy_summary(cp)
    definition = policy_set.definition(cp.id)
    data["definition"] = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    if fmt == "json":
        click.echo(json_text(data))
    else:
        click.echo(dump_yaml(data))


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@as_of_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def validate(directory: Path | None, as_of: date | None, fmt: str) -> None:
    """Load and check a policy directory (default: the bundled library), then run the static
    checks (tiers, contradictions and tautologies, unreachable policies, labels against their
    rules, code values, what a benefit pays, the same measure twice, stacking groups, units,
    expired periods and succession relative to --as-of); exit 1 on any problem or error
    finding."""
    from ..engine.check.lint import lint
    from .render import json_text, safe

    loaded, findings = lint(directory, as_of or date.today())
    errors = sum(f.severity == "error" for f in findings)
    if fmt == "json":
        click.echo(json_text({
            "tool": "validate", "documents": len(loaded.documents), "policies": len(loaded.policies),
            "facts": len(loaded.facts), "errors": errors, "warnings": len(findings) - errors,
            "findings": [f.to_json() for f in findings],
        }))  # fmt: skip
    else:
        for finding in findings:
            click.echo(safe(str(finding)))
        counts = (f"{len(loaded.documents)} document(s), {len(loaded.policies)} policies, "
                  f"{len(loaded.facts)} facts")  # fmt: skip
        verdict = f"FAILED: {errors} error(s)" if errors else "OK"
        click.echo(f"{verdict}: {counts}, {len(findings) - errors} warning(s)")
    if errors:
        sys.exit(EXIT_INPUT)


@main.command()
@click.argument("kind", type=click.Choice(["profile", "policy", "cases", "zones", "report"]))
@policies_option
def schema(kind: str, policies_dir: Path | None) -> None:
    """Print the standard JSON Schema (2020-12) of profiles, policy documents, case files or
    zone files, or of the report `check --format json` prints, with the zones, facts and
    policy ids of the policy set enumerated."""
    from ..engine.schema import Known, schema_of
    from .render import json_text

    known = Known.of(_load(policies_dir))
    click.echo(json_text(schema_of(kind, known)))


if __name__ == "__main__":  # pragma: no cover
    main()

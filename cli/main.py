"""`incentives`: check enterprise profiles against incentive policies, and explain.

Exit codes: 0 the command ran; 1 bad input (policy files, profile, unknown policy id);
2 bad usage (unknown option, malformed argument).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import click
import yaml
from rich.console import Console

from ..engine import InputError, PolicySet, load_profile
from ..engine.model.language import Document
from ..engine.model.profile import Profile
from .i18n import default_lang
from .render import (
    policy_summary,
    print_policy_list,
    print_report,
    report_markdown,
)

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INPUT = 1


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 120)


def user_errors(func: F) -> F:
    """Turn InputError into a one-paragraph message on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            click.echo(f"Error: {exc.render()}", err=True)
            sys.exit(EXIT_INPUT)

    return wrapper  # type: ignore[return-value]


def _as_of(_: click.Context, __: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date in the form YYYY-MM-DD") from None


as_of_option = click.option(
    "--as-of", callback=_as_of, metavar="YYYY-MM-DD",
    help="Evaluation date: decides which policies are in force and which year is 'last year' (default: today).",
)  # fmt: skip
policies_option = click.option(
    "--policies", "policies_dir", type=click.Path(file_okay=False, path_type=Path),
    help="Directory of policy documents (default: the bundled library).",
)  # fmt: skip
lang_option = click.option(
    "--lang", type=click.Choice(["zh", "en"]), default=None,
    help="Language of the output (default: from the locale).",
)  # fmt: skip


def _load(policies_dir: Path | None) -> PolicySet:
    return PolicySet(policies_dir)


def _profile(path: Path) -> Profile:
    return load_profile(path)


class _Commands(click.Group):
    """The group of subcommands. Those in `LAZY` live in modules that import heavy libraries
    (polars for `screen`, durable_rules for `watch`, hypothesis for `prop` and `test`): each
    is imported only when its command runs or help lists it, so that `check` starts fast."""

    LAZY: ClassVar[Mapping[str, tuple[str, str]]] = {
        "prop": ("incentives.cli.prop", "prop"),
        "screen": ("incentives.cli.screen", "screen"),
        "test": ("incentives.cli.cases", "test_cases"),
        "watch": ("incentives.cli.watch", "watch"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.LAZY:
            return super().get_command(ctx, cmd_name)
        import importlib

        module, attribute = self.LAZY[cmd_name]
        # Taken from the module rather than from this group: under `python -m incentives.cli.main` the
        # module registers it on the group of `incentives.cli.main`, a different object from this one.
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="incentives")
def main() -> None:
    """Check enterprise profiles against incentive policies, with every verdict explained."""


@main.command()
@click.argument("profile", type=click.Path(dir_okay=False, path_type=Path))
@as_of_option
@click.option("--zone", help="Evaluate as if the enterprise were in this zone.")
@policies_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table")
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
@user_errors
def check(
    profile: Path, as_of: date | None, zone: str | None, policies_dir: Path | None,
    fmt: str, lang: str | None, explain: bool, show_all: bool,
) -> None:  # fmt: skip
    """Check PROFILE (YAML or JSON) against every policy: verdict, amount, why, what is missing."""
    policy_set = _load(policies_dir)
    report = policy_set.evaluate(
        _profile(profile), as_of, zone=zone, explain=explain or fmt == "json"
    )
    language = lang or default_lang()
    if fmt == "json":
        click.echo(json.dumps(report.to_json_dict(), ensure_ascii=False, indent=2))
    elif fmt == "markdown":
        click.echo(report_markdown(report, language, explain, show_all))
    else:
        print_report(report, language, explain, _console(), show_all)


@main.command()
@click.argument("profile", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("policy_id")
@as_of_option
@policies_option
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table")
@lang_option
@user_errors
def explain(
    profile: Path,
    policy_id: str,
    as_of: date | None,
    policies_dir: Path | None,
    fmt: str,
    lang: str | None,
) -> None:
    """Explain one policy's verdict for PROFILE, criterion by criterion."""
    policy_set = _load(policies_dir)
    policy_set.get(policy_id)
    report = policy_set.evaluate(_profile(profile), as_of, policy_ids=[policy_id], explain=True)
    language = lang or default_lang()
    if fmt == "json":
        click.echo(
            json.dumps(report.results[0].model_dump(mode="json"), ensure_ascii=False, indent=2)
        )
    elif fmt == "markdown":
        click.echo(report_markdown(report, language, True, show_all=True))
    else:
        print_report(report, language, True, _console(), show_all=True)


@main.command("list")
@policies_option
@click.option("--zone", help="Only policies that apply in this zone (national ones included).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@lang_option
@user_errors
def list_policies(policies_dir: Path | None, zone: str | None, fmt: str, lang: str | None) -> None:
    """List the policies with zone, effective dates, provenance and benefit kind."""
    policy_set = _load(policies_dir)
    chosen = policy_set.policies
    if zone is not None:
        if zone not in policy_set.zones:
            raise InputError(
                f"unknown zone {zone!r}; known zones: {', '.join(sorted(policy_set.zones))}"
            )
        from ..engine.model.zones import NATIONAL, Zones

        chain = Zones(dict(policy_set.zones)).chain(zone)
        chosen = tuple(p for p in chosen if NATIONAL in p.zones or not p.zones.isdisjoint(chain))
    if fmt == "json":
        click.echo(json.dumps([policy_summary(p) for p in chosen], ensure_ascii=False, indent=2))
    else:
        print_policy_list(chosen, lang or default_lang(), _console())


@main.command()
@click.argument("policy_id")
@policies_option
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml")
@user_errors
def show(policy_id: str, policies_dir: Path | None, fmt: str) -> None:
    """Show one policy: its provenance and its full definition."""
    policy_set = _load(policies_dir)
    cp = policy_set.get(policy_id)
    data = policy_summary(cp)
    definition = policy_set.definition(cp.id)
    data["definition"] = definition.model_dump(mode="json", by_alias=True, exclude_none=True)
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
@as_of_option
@user_errors
def validate(directory: Path | None, as_of: date | None) -> None:
    """Load and check a policy directory (default: the bundled library), then run the static
    checks (tiers, contradictions, unreachable policies, stacking groups, units, expired
    periods relative to --as-of); exit 1 on any problem or error finding."""
    from ..engine.check.lint import lint

    loaded, findings = lint(directory, as_of or date.today())
    for finding in findings:
        click.echo(str(finding))
    errors = sum(f.severity == "error" for f in findings)
    counts = f"{len(loaded.documents)} document(s), {len(loaded.policies)} policies, {len(loaded.facts)} facts"
    verdict = f"FAILED: {errors} error(s)" if errors else "OK"
    click.echo(f"{verdict}: {counts}, {len(findings) - errors} warning(s)")
    if errors:
        sys.exit(EXIT_INPUT)


@main.command()
@click.argument("kind", type=click.Choice(["policy", "profile"]))
def schema(kind: str) -> None:
    """Print the JSON Schema of policy documents or of enterprise profiles."""
    model = Document if kind == "policy" else Profile
    click.echo(json.dumps(model.model_json_schema(by_alias=True), ensure_ascii=False, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()

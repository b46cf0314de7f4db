"""`incentives facts` and `incentives zones`: what a policy set knows, for the people who write
profiles (every fact with its labels, type, unit, source and an example) and the zone tree."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text as RichText

from ..engine.model.zones import Zone
from ..engine.summary import FactSummary, fact_summary
from .i18n import default_lang
from .main import _console, _load, as_of_option, lang_option, main, policies_option
from .render import json_text, safe

_CHANGE = {"actionable": "可自主改变", "slow": "需多年", "fixed": "无法改变"}


@main.command()
@policies_option
@as_of_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@lang_option
def facts(policies_dir: Path | None, as_of: date | None, fmt: str, lang: str | None) -> None:
    """List every fact policies may name: label (zh/en), type, unit, where its value comes
    from (for --as-of: which fiscal year), how it can change, and how a profile writes it."""
    policy_set = _load(policies_dir)
    day = as_of or date.today()
    summaries = [fact_summary(plan, day) for plan in policy_set.plan.facts.values()]
    if fmt == "json":
        click.echo(json_text([s.model_dump(mode="json") for s in summaries]))
        return
    _print_facts(summaries, lang or default_lang(), _console())


def _print_facts(summaries: list[FactSummary], lang: str, console: Console) -> None:
    zh = lang == "zh"
    table = Table()
    for head in (("事实", "fact"), ("类型", "type"), ("来源", "source"), ("可变性", "change"),
                 ("填写示例", "example")):  # fmt: skip
        table.add_column(head[0] if zh else head[1], overflow="fold")
    for s in summaries:
        kind = s.type + (f" ({s.unit})" if s.unit else "") + (" ⚑" if s.judgement else "")
        change = _CHANGE[s.change] if zh else s.change
        label = f"{safe(s.id)}\n{safe(s.zh if zh else s.en)}"
        cells = (safe(kind), safe(s.origin), change, safe(s.example or "—"))
        table.add_row(RichText(label), *(RichText(c) for c in cells))
    console.print(table)
    console.print(
        "⚑ 需专家判断（缺失时结论为需专家评审）" if zh
        else "⚑ needs an expert's judgement (absent: the verdict is needs_review)"
    )  # fmt: skip


@main.command()
@policies_option
@click.option("--format", "fmt", type=click.Choice(["tree", "json"]), default="tree")
@lang_option
def zones(policies_dir: Path | None, fmt: str, lang: str | None) -> None:
    """List the zones as a tree: a profile in a zone gets the policies of that zone and of
    every zone above it."""
    known = _load(policies_dir).zones
    if fmt == "json":
        data = [z.model_dump(mode="json", exclude_none=True) for z in known.values()]
        click.echo(json_text(data))
        return
    for line in zone_tree(known, lang or default_lang()):
        click.echo(safe(line))


def _parents(zone: Zone) -> list[str]:
    """The zones it lies in directly (a zone may lie in several)."""
    return list(zone.parents)


def zone_tree(known: Mapping[str, Zone], lang: str) -> Iterator[str]:
    """`national 全国` then each zone under its parents, indented; a zone that lies in several
    is shown under each."""
    children: dict[str | None, list[str]] = {}
    for zone in known.values():
        above: list[str | None] = [p for p in _parents(zone) if p in known]
        for parent in above or [None]:
            children.setdefault(parent, []).append(zone.id)

    def walk(zone_id: str, depth: int, seen: tuple[str, ...]) -> Iterator[str]:
        zone = known[zone_id]
        name = zone.zh if lang == "zh" else zone.en
        code = f" [{zone.region_code}]" if zone.region_code else ""
        yield f"{'  ' * depth}{zone_id} — {name}{code}"
        for child in children.get(zone_id, []):
            if child not in seen:
                yield from walk(child, depth + 1, (*seen, child))

    for root in children.get(None, []):
        yield from walk(root, 0, (root,))

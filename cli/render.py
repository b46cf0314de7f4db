"""Human output: rich tables for the terminal (and the same bytes laid out by `cli.plain` for a
file or a pipe), Markdown for documents. The engine returns data; all wording and layout is
here."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from ..engine.compile.plan import FactPlan, PolicyPlan
from ..engine.model.units import format_money
from ..engine.model.zones import Zone, Zones
from ..engine.policyset import PolicySet
from ..engine.reference.results import Opportunity, PolicyResult, Report, Trace
from .advice import alternative_lines, missing_lines, opportunity_lines, reason_lines, review_lines
from .i18n import status_word, word
from .scope import left_out_lines, zone_hint, zones_applied, zones_line

if TYPE_CHECKING:
    from rich.console import Console

_MARK = {"true": "✔", "false": "✘", "unknown": "?", "review": "⚑"}
_STYLE = {
    "eligible": "bold green",
    "ineligible": "red",
    "undetermined": "yellow",
    "needs_review": "magenta",
    "not_in_force": "dim",
}


def money(value: object, lang: str) -> str:
    from decimal import Decimal

    return format_money(value, lang) if isinstance(value, Decimal) else "—"


def amount_text(result: PolicyResult, lang: str) -> str:
    """The amount cell: what an eligible policy pays, or why it shows none (below the table)."""
    if result.status.value != "eligible":
        return ""
    if result.amount_kind == "none":
        return "非现金" if lang == "zh" else "non-cash"
    if result.amount is None:
        return "金额待定（缺少信息）" if lang == "zh" else "amount unknown (facts missing)"
    text = money(result.amount, lang)
    if not result.amount and result.stacking:
        text += "（同组不叠加）" if lang == "zh" else " (not stacked)"
    if result.amount_kind == "tax_saving":
        text += " 减税" if lang == "zh" else " tax saved"
    elif result.amount_kind == "deduction":
        text += " 加计扣除" if lang == "zh" else " deduction"
    return text


def source_text(result: PolicyResult, lang: str) -> str:
    src = result.source
    parts = [src.number or src.document, src.article or ""]
    mark = (
        word("illustrative", lang) if src.provenance == "illustrative" else word("verified", lang)
    )
    return " ".join(p for p in parts if p) + f" [{mark}]"


# C1 control characters (U+009B is an 8-bit CSI) and the bidirectional overrides that make text
# read differently from how it is stored; with the C0 controls (ESC starts terminal escape
# sequences: a profile's name could set the window title or rewrite the screen), what a
# terminal may act on.
_ACTIVE = "\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029"
_UNSAFE = re.compile(f"[\x00-\x1f{_ACTIVE}]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str) -> str:
    """`text` with every control character, escape sequence and bidirectional override shown
    as its escape (`\\x1b`), so that it prints as written and cannot drive the terminal."""
    return _UNSAFE.sub(_escape, text)


_UNSAFE_IN_JSON = re.compile(f"[{_ACTIVE}]")  # JSON escapes the C0 controls itself


def json_text(data: object) -> str:
    """`data` as indented JSON with Chinese text as it is, and every character a terminal could
    act on written as its `\\u` escape (the same JSON value)."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_line(data: object) -> str:
    """`data` as one line of JSON Lines (no line break inside), escaped as `json_text`."""
    text = json.dumps(data, ensure_ascii=False)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def md_cell(text: str) -> str:
    """`text` fit for one cell or heading of Markdown: printable, one line, no `|` that would
    start a new cell and no HTML."""
    return safe(text).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _joiner(kind: str, lang: str) -> str:
    zh, en = {"all": ("全部满足", "all of"), "any": ("满足其一", "any of"), "not": ("不得", "not")}[kind]
    return zh if lang == "zh" else en


def _node_head(node: Trace, lang: str, name: str) -> str:
    article = f" 〔{node.article}〕" if node.article else ""
    flag = f" ({word('illustrative', lang)})" if node.provenance == "illustrative" else ""
    excl = f"[{word('excluded', lang)}] " if node.exclusion else ""
    return f"{_MARK[node.outcome]} {excl}{name}{article}{flag}"


def _leaf_detail(node: Trace, lang: str) -> str:
    assert node.fact_label is not None and node.threshold is not None
    assert node.value_text is not None
    needs = "要求" if lang == "zh" else "needs"
    origin = f" ← {node.origin}" if node.origin else ""
    return f"{node.fact} = {node.value_text(lang)}; {needs} {node.threshold(lang)}{origin}"


def trace_lines(node: Trace, lang: str, depth: int = 0) -> Iterator[str]:
    indent = "  " * depth
    label = node.label(lang) if node.label else None
    if node.kind == "leaf":
        assert node.fact_label is not None
        yield indent + _node_head(node, lang, label or node.fact_label(lang))
        yield f"{indent}    {_leaf_detail(node, lang)}"
        return
    if depth == 0 and node.kind == "all" and label is None:
        for child in node.children:
            yield from trace_lines(child, lang, depth)
        return
    yield indent + _node_head(node, lang, label or _joiner(node.kind, lang))
    for child in node.children:
        yield from trace_lines(child, lang, depth + 1)


def _calculation_lines(result: PolicyResult, lang: str) -> Iterator[str]:
    yield f"{word('calculation', lang)}:"
    for step in result.calculation:
        shown = f" = {money(step.amount, lang)}" if step.amount is not None else ""
        yield f"  {step.label(lang)}{shown}"


@dataclass(frozen=True)
class Setting:
    """What the renderers read of the policy set beside the report: the facts (labels and the
    profile fields behind them), the zone chain of the profile, the zones' names and the set's
    version. Without one, facts are shown by id."""

    facts: Mapping[str, FactPlan]
    chain: tuple[str, ...] = ()
    zones: Mapping[str, Zone] = field(default_factory=dict)
    version: str | None = None

    @classmethod
    def of(cls, policy_set: PolicySet, report: Report, *, versioned: bool = False) -> Setting:
        """The setting of `report`; `versioned` adds the set's version (a hash of every
        document: only the reports to hand over show it)."""
        from ..engine.version import policy_set_version

        zone = report.profile.zone
        known = zone is not None and zone in policy_set.zones
        chain = Zones(dict(policy_set.zones)).chain(zone) if known and zone else ()
        version = policy_set_version(policy_set) if versioned else None
        return cls(policy_set.plan.facts, chain, policy_set.zones, version)


def detail_lines(
    result: PolicyResult,
    lang: str,
    explain: bool,
    setting: Setting | None = None,
    opportunity: Opportunity | None = None,
) -> Iterator[str]:
    """The explanation under a policy: reason, calculation, missing facts, the ways to pass
    (or why not), tree; every line printable as it is (control characters escaped)."""
    lines = _detail_lines(result, lang, explain, setting, opportunity)
    return (safe(line) for line in lines)


def _detail_lines(
    result: PolicyResult,
    lang: str,
    explain: bool,
    setting: Setting | None,
    opportunity: Opportunity | None,
) -> Iterator[str]:
    facts = setting.facts if setting is not None else None
    if result.reason:
        yield result.reason(lang)
    successor = result.source.superseded_by
    if successor and result.status.value == "not_in_force":
        yield f"已由 {successor} 取代" if lang == "zh" else f"superseded by {successor}"
    if result.calculation:
        yield from _calculation_lines(result, lang)
    if result.stacking:
        yield result.stacking(lang)
    why_amount = _amount_why(result, lang)
    if why_amount:
        yield why_amount
    if result.missing:
        yield from missing_lines(result, facts, lang)
    if result.review:
        yield from review_lines(result, facts, lang)
    if opportunity is not None:
        yield from alternative_lines(opportunity, lang)
    elif result.gaps:
        yield from reason_lines(result, lang)
    if explain and result.trace is not None:
        yield from trace_lines(result.trace, lang)


def _amount_why(result: PolicyResult, lang: str) -> str | None:
    """Why an eligible policy shows no amount or ¥0 (a stacking note says it otherwise)."""
    if result.status.value != "eligible" or result.amount_kind == "none" or result.stacking:
        return None
    if result.amount is None:
        return (
            "符合条件，但金额取决于下列缺少的信息"
            if lang == "zh"
            else "eligible, but the amount depends on the missing facts below"
        )
    if not result.amount:
        return (
            "符合条件，但按所填数据计算金额为零（见计算）"
            if lang == "zh"
            else "eligible, but it pays nothing on the figures given (see the calculation)"
        )
    return None


def header_text(report: Report, lang: str) -> str:
    p = report.profile
    who = " ".join(x for x in (p.name, p.credit_code, p.zone) if x)
    synthetic = f" ({word('synthetic', lang)})" if p.synthetic else ""
    year = "" if report.tax_year is None else f", {word('tax_year', lang)} {report.tax_year}"
    return f"{who}{synthetic} — {word('as_of', lang)} {report.as_of.isoformat()}{year}"


_ORDER = {"eligible": 0, "needs_review": 1, "undetermined": 2, "ineligible": 3, "not_in_force": 4}


def ordered(report: Report, show_all: bool) -> tuple[list[PolicyResult], int]:
    """Results most useful first; policies not in force here are left out unless asked for."""
    results = sorted(report.results, key=lambda r: _ORDER[r.status.value])
    shown = [r for r in results if show_all or r.status.value != "not_in_force"]
    return shown, len(results) - len(shown)


def total_line(report: Report, lang: str) -> str:
    line = f"{word('total', lang)}: {money(report.total, lang)}"
    if report.totals.illustrative:
        part = money(report.totals.illustrative, lang)
        line += (
            f"（其中 {part} 依据示例性数值，非法定）"
            if lang == "zh"
            else f" (of which {part} rests on illustrative figures, not law)"
        )
    if report.totals.deduction:
        line += f"; {word('deductions', lang)} {money(report.totals.deduction, lang)}"
    return line


def summary_lines(report: Report, lang: str, setting: Setting | None, show_all: bool) -> Iterator[str]:
    """Under the table: the total, the zones applied, what was left out and why, and the
    opportunities ranked by value."""
    yield total_line(report, lang)
    if setting is not None:
        applied = zones_applied(report, setting.chain)
        zones = zones_line(applied, setting.zones, lang)
        if zones:
            yield zones
        hint = zone_hint(report, applied, setting.zones, lang)
        if hint:
            yield hint
    yield from left_out_lines(report, setting.zones if setting else {}, lang, show_all)
    yield from opportunity_lines(report.opportunities, lang)


@dataclass(frozen=True)
class ReportView:
    """What `check` and `explain` print of a report, before it is laid out: the header line,
    the table (headers; rows of status, policy, amount, source; each row's status), the lines
    under it, and each policy's details (status, heading, lines). Every text is printable as
    it is (control characters escaped)."""

    header: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, str, str, str], ...]
    statuses: tuple[str, ...]
    summary: tuple[str, ...]
    details: tuple[tuple[str, str, tuple[str, ...]], ...]

    def details_text(self) -> str:
        """The details as one text: a blank line, then the heading and lines of each policy."""
        return "\n".join(f"\n{head}\n" + "\n".join(lines) for _, head, lines in self.details)


def report_view(
    report: Report, lang: str, explain: bool, show_all: bool = False, setting: Setting | None = None
) -> ReportView:
    """What `check` prints of `report` (`explain`: the condition trees; `show_all`: the
    policies not in force here too), whichever way it is laid out."""
    shown, _ = ordered(report, show_all)
    rows = tuple(
        (
            status_word(result.status.value, lang),
            f"{safe(result.policy_id)}\n{safe(result.title(lang))}",
            amount_text(result, lang),
            safe(source_text(result, lang)),
        )
        for result in shown
    )
    chances = {o.policy_id: o for o in report.opportunities}
    details = []
    for result in shown:
        lines = tuple(detail_lines(result, lang, explain, setting, chances.get(result.policy_id)))
        if lines:
            status = result.status.value
            head = f"■ {safe(result.policy_id)} — {status_word(status, lang)}"
            details.append((status, head, lines))
    return ReportView(
        header=safe(header_text(report, lang)),
        headers=tuple(word(key, lang) for key in ("status", "policy", "amount", "source")),
        rows=rows,
        statuses=tuple(result.status.value for result in shown),
        summary=tuple(safe(line) for line in summary_lines(report, lang, setting, show_all)),
        details=tuple(details),
    )


def print_report(
    report: Report,
    lang: str,
    explain: bool,
    console: Console,
    show_all: bool = False,
    setting: Setting | None = None,
) -> None:
    print_view(report_view(report, lang, explain, show_all, setting), console)


def print_view(view: ReportView, console: Console) -> None:
    """`view` printed by rich (colour on a terminal)."""
    from rich.table import Table
    from rich.text import Text as RichText

    # one line however long (a terminal wraps it; output to a file stays one line)
    console.print(RichText(view.header, style="bold"), soft_wrap=True)
    table = Table(show_lines=False, expand=False)
    for header in view.headers:
        table.add_column(header, overflow="fold")
    for row, status in zip(view.rows, view.statuses, strict=True):
        first, *rest = row
        table.add_row(RichText(first, style=_STYLE[status]), *(RichText(cell) for cell in rest))
    console.print(table)
    console.print(RichText(view.summary[0], style="bold"))
    for line in view.summary[1:]:
        console.print(RichText(line))
    # All the details in one Text, printed once: the same lines as printing each on its own
    # (rich wraps every line by itself either way), without rich's set-up for each of hundreds
    # of prints, which was a third of a cold `check --explain`.
    details = RichText()
    for status, head, lines in view.details:
        details.append("\n")  # a blank line before each policy
        details.append(head, _STYLE[status])
        details.append("\n")
        for line in lines:
            details.append(line)
            details.append("\n")
    if details:
        details.right_crop(1)  # print ends the last line
        console.print(details)


def plain_text(view: ReportView, width: int) -> str:
    """`view` laid out in `width` cells, byte for byte as `print_view` prints it to a file
    (`plain.NotPlain` where that cannot be promised)."""
    from .plain import table_lines, wrapped

    lines = [view.header, *table_lines(view.headers, view.rows, width)]
    for line in view.summary:
        lines += wrapped(line, width)
    if view.details:
        lines += wrapped(view.details_text(), width)
    return "\n".join(lines) + "\n"


def write_report(view: ReportView, out: TextIO, width: int, console: Callable[[], Console]) -> None:
    """`view` on `out`: laid out here when rich would print it plainly (a file or a pipe),
    else (a terminal, or text the plain layout does not promise to match) by rich on the
    console `console()` makes."""
    from .plain import NotPlain, plain_stream

    if plain_stream(out):
        try:
            text = plain_text(view, width)
        except NotPlain:
            pass
        else:
            out.write(text)
            out.flush()
            return
    print_view(view, console())


def fence_for(lines: list[str]) -> str:
    """A code fence longer than any run of backticks in the lines it encloses."""
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    return "`" * max(3, longest + 1)


def print_policy_list(policies: tuple[PolicyPlan, ...], lang: str, console: Console) -> None:
    from rich.table import Table
    from rich.text import Text as RichText

    table = Table()
    for key in ("policy", "zones", "effective", "benefit", "source"):
        table.add_column(word(key, lang), overflow="fold")
    for cp in policies:
        p = cp
        start = cp.effective.start.isoformat() if cp.effective.start else "…"
        until = cp.effective.until.isoformat() if cp.effective.until else "…"
        mark = (
            word("illustrative", lang)
            if cp.source.provenance == "illustrative"
            else word("verified", lang)
        )
        cells = (
            f"{safe(p.id)}\n{safe(p.title if lang == 'zh' else p.title_en)}",
            safe(", ".join(sorted(cp.zones))),
            f"{start} – {until}",
            p.benefit.kind,
            f"{safe(cp.source.number or cp.source.document)} {safe(cp.source.article or '')}\n[{mark}]",
        )
        table.add_row(*(RichText(c) for c in cells))
    console.print(table)


def policy_summary(cp: PolicyPlan) -> dict[str, object]:
    """The stable JSON shape of one policy for `list` and `show` (the service's too)."""
    from ..engine.summary import policy_summary as summary_of  # its models: `list`, `show`

    return summary_of(cp).model_dump(mode="json")

"""A report an advisor can send a client, as Markdown or as one self-contained HTML file: who
and when (the evaluation date and the policy set's version), the summary, the totals by
kind, the opportunities ranked by value, every policy's verdict and explanation, and the
sources with their provenance.

Both formats are written from the same parts, in the same order; the wording is that of the
terminal output (`render`, `advice`, `scope`). Everything taken from the profile or the
policies is escaped for the format (no control character, no Markdown cell break, no HTML).
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterator, Sequence

from ..engine.model.units import format_money
from ..engine.reference.results import PolicyResult, Report, SourceInfo
from .advice import needs_text, uncertain_text, worth_text
from .i18n import status_word, word
from .render import (
    Setting,
    amount_text,
    detail_lines,
    fence_for,
    header_text,
    md_cell,
    ordered,
    safe,
    source_text,
    summary_lines,
)

_TITLE = ("政策适用报告", "Incentives report")
_HEADS = {
    "summary": ("概要", "Summary"),
    "totals": ("按类型合计", "Totals by kind"),
    "opportunities": ("可争取的政策（按价值排序）", "Opportunities, ranked by value"),
    "results": ("各项政策结论", "Verdicts"),
    "details": ("逐项说明", "Each policy explained"),
    "sources": ("政策依据", "Sources"),
}
_KINDS = (("cash", ("现金奖补", "cash")), ("tax_saving", ("减税", "tax savings")),
          ("deduction", ("加计扣除额", "additional deductions")),
          ("illustrative", ("其中依据示例性数值", "of which on illustrative figures")))  # fmt: skip


def _t(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def _meta(report: Report, setting: Setting | None, lang: str) -> list[tuple[str, str]]:
    version = setting.version if setting is not None else None
    rows = [
        (word("as_of", lang), report.as_of.isoformat()),
        ("政策库版本" if lang == "zh" else "policy-set version", version or "—"),
    ]
    if report.profile.synthetic:
        rows.append((word("synthetic", lang), "✔"))
    return rows


def _status_counts(report: Report, lang: str) -> list[tuple[str, str]]:
    counts = Counter(r.status.value for r in report.results)
    order = ("eligible", "needs_review", "undetermined", "ineligible", "not_in_force")
    return [(status_word(s, lang), str(counts[s])) for s in order if counts[s]]


def _totals(report: Report, lang: str) -> list[tuple[str, str]]:
    totals = report.totals.model_dump()
    rows = [(_t(label, lang), format_money(totals[key], lang)) for key, label in _KINDS]
    return [*rows, (word("total", lang), format_money(report.total, lang))]


def _opportunity_rows(report: Report, lang: str) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for o in report.opportunities:
        ways = [needs_text(way, lang, " + ", changes=True) for way in o.alternatives]
        either = (" 或 " if lang == "zh" else " — or — ").join(ways)
        policy = f"{o.policy_id} {o.title(lang)}{uncertain_text(o, lang)}"
        rows.append((str(o.rank), policy, worth_text(o, lang), either))
    return rows


def _result_rows(report: Report, lang: str, show_all: bool) -> list[tuple[str, ...]]:
    shown, _ = ordered(report, show_all)
    return [
        (status_word(r.status.value, lang), f"{r.policy_id} {r.title(lang)}", amount_text(r, lang),
         source_text(r, lang))
        for r in shown
    ]  # fmt: skip


def _sources(report: Report) -> list[SourceInfo]:
    """Each document once, in the order the report first cites it, with its articles."""
    seen: dict[str, SourceInfo] = {}
    for result in ordered(report, show_all=True)[0]:
        seen.setdefault(result.source.document_id, result.source)
    return list(seen.values())


def _source_row(src: SourceInfo, report: Report, lang: str) -> tuple[str, ...]:
    cited = sorted({r.source.article for r in report.results
                    if r.source.document_id == src.document_id and r.source.article})  # fmt: skip
    provenance = word("illustrative" if src.provenance == "illustrative" else "verified", lang)
    name = f"{src.document}" + (f"（{src.number}）" if src.number else "")
    return (name, src.issuer, "；".join(cited) or "—", provenance, src.url or "—")


def _explained(report: Report, lang: str, explain: bool, setting: Setting | None) -> Iterator[tuple[PolicyResult, list[str]]]:
    chances = {o.policy_id: o for o in report.opportunities}
    for result in ordered(report, show_all=False)[0]:
        lines = list(detail_lines(result, lang, explain, setting, chances.get(result.policy_id)))
        if lines:
            yield result, lines


# --- Markdown ----------------------------------------------------------------------------


def _md_table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    out = [f"| {' | '.join(md_cell(h) for h in head)} |", f"|{'---|' * len(head)}"]
    out += [f"| {' | '.join(md_cell(c) for c in row)} |" for row in rows]
    return [*out, ""]


def report_markdown(
    report: Report, lang: str, explain: bool, show_all: bool = False, setting: Setting | None = None
) -> str:
    """The report as Markdown: the heading names the enterprise, then the parts above."""
    out = [f"# {md_cell(_t(_TITLE, lang))}: {md_cell(header_text(report, lang))}", ""]
    out += _md_table(("", ""), _meta(report, setting, lang))
    out += [f"## {_t(_HEADS['summary'], lang)}", ""]
    out += _md_table((word("status", lang), "#"), _status_counts(report, lang))
    total, *rest = summary_lines(report, lang, setting, show_all)
    out += [f"**{md_cell(total)}**", ""]
    if rest:
        fence = fence_for(rest)
        out += [fence, *(safe(line) for line in rest), fence, ""]
    out += [f"## {_t(_HEADS['totals'], lang)}", ""]
    out += _md_table(("", word("amount", lang)), _totals(report, lang))
    if report.opportunities:
        out += [f"## {_t(_HEADS['opportunities'], lang)}", ""]
        head: tuple[str, ...] = ("#", word("policy", lang), word("amount", lang), word("to_pass", lang))
        out += _md_table(head, _opportunity_rows(report, lang))
    out += [f"## {_t(_HEADS['results'], lang)}", ""]
    head = tuple(word(k, lang) for k in ("status", "policy", "amount", "source"))
    out += _md_table(head, _result_rows(report, lang, show_all))
    out += [f"## {_t(_HEADS['details'], lang)}", ""]
    for result, lines in _explained(report, lang, explain, setting):
        fence = fence_for(lines)
        heading = f"### {md_cell(result.policy_id)} — {status_word(result.status.value, lang)}"
        out += [heading, "", fence, *lines, fence, ""]
    out += [f"## {_t(_HEADS['sources'], lang)}", ""]
    src_head = ("文件", "发布机关", "条款", "依据性质", "链接") if lang == "zh" else (
        "document", "issuer", "articles", "provenance", "link")  # fmt: skip
    out += _md_table(src_head, [_source_row(s, report, lang) for s in _sources(report)])
    return "\n".join(out)


# --- HTML --------------------------------------------------------------------------------

_CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","PingFang SC",sans-serif;
max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.5}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%}
th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}pre{background:#f8f8f8;padding:.6rem;white-space:pre-wrap}
.eligible{color:#176f2c;font-weight:bold}.ineligible{color:#a12}.undetermined{color:#8a6d00}
.needs_review{color:#7a2a8a}.not_in_force{color:#777}
@media print{pre{white-space:pre-wrap}}
"""


def _h(text: str) -> str:
    return html.escape(safe(text), quote=True)


def _html_table(head: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    out = ["<table>", "<tr>" + "".join(f"<th>{_h(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{_h(c)}</td>" for c in row) + "</tr>" for row in rows]
    return [*out, "</table>"]


def report_html(
    report: Report, lang: str, explain: bool, show_all: bool = False, setting: Setting | None = None
) -> str:
    """The report as one HTML file: inline style, no script, nothing fetched from elsewhere."""
    title = f"{_t(_TITLE, lang)}: {header_text(report, lang)}"
    out = ["<!DOCTYPE html>", f'<html lang="{"zh-CN" if lang == "zh" else "en"}">', "<head>",
           '<meta charset="utf-8">', f"<title>{_h(title)}</title>", f"<style>{_CSS}</style>",
           "</head>", "<body>", f"<h1>{_h(title)}</h1>"]  # fmt: skip
    out += _html_table(("", ""), _meta(report, setting, lang))
    out.append(f"<h2>{_h(_t(_HEADS['summary'], lang))}</h2>")
    out += _html_table((word("status", lang), "#"), _status_counts(report, lang))
    total, *rest = summary_lines(report, lang, setting, show_all)
    out.append(f"<p><strong>{_h(total)}</strong></p>")
    if rest:
        out.append(f"<pre>{_h(chr(10).join(rest))}</pre>")
    out.append(f"<h2>{_h(_t(_HEADS['totals'], lang))}</h2>")
    out += _html_table(("", word("amount", lang)), _totals(report, lang))
    if report.opportunities:
        out.append(f"<h2>{_h(_t(_HEADS['opportunities'], lang))}</h2>")
        head = ("#", word("policy", lang), word("amount", lang), word("to_pass", lang))
        out += _html_table(head, _opportunity_rows(report, lang))
    out.append(f"<h2>{_h(_t(_HEADS['results'], lang))}</h2>")
    out += _results_html(report, lang, show_all)
    out.append(f"<h2>{_h(_t(_HEADS['details'], lang))}</h2>")
    for result, lines in _explained(report, lang, explain, setting):
        status = result.status.value
        out.append(f'<h3>{_h(result.policy_id)} — <span class="{status}">'
                   f"{_h(status_word(status, lang))}</span></h3>")  # fmt: skip
        out.append(f"<pre>{_h(chr(10).join(lines))}</pre>")
    out.append(f"<h2>{_h(_t(_HEADS['sources'], lang))}</h2>")
    src_head = ("文件", "发布机关", "条款", "依据性质", "链接") if lang == "zh" else (
        "document", "issuer", "articles", "provenance", "link")  # fmt: skip
    out += _html_table(src_head, [_source_row(s, report, lang) for s in _sources(report)])
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _results_html(report: Report, lang: str, show_all: bool) -> list[str]:
    head = tuple(word(k, lang) for k in ("status", "policy", "amount", "source"))
    out = ["<table>", "<tr>" + "".join(f"<th>{_h(h)}</th>" for h in head) + "</tr>"]
    for r in ordered(report, show_all)[0]:
        status = r.status.value
        cells = (f"{r.policy_id} {r.title(lang)}", amount_text(r, lang), source_text(r, lang))
        out.append(f'<tr><td class="{status}">{_h(status_word(status, lang))}</td>'
                   + "".join(f"<td>{_h(c)}</td>" for c in cells) + "</tr>")  # fmt: skip
    return [*out, "</table>"]

"""Interface strings in Chinese and English, and the default language from the locale."""

from __future__ import annotations

import locale
import os

STATUS = {
    "eligible": ("符合", "eligible"),
    "ineligible": ("不符合", "ineligible"),
    "undetermined": ("信息不足", "undetermined"),
    "needs_review": ("需专家评审", "needs review"),
    "not_in_force": ("不适用", "not in force"),
}

WORDS = {
    "status": ("结论", "Status"),
    "policy": ("政策", "Policy"),
    "amount": ("金额", "Amount"),
    "source": ("依据", "Source"),
    "why": ("说明", "Why"),
    "total": ("合计（现金+税收减免）", "Total (cash + tax savings)"),
    "deductions": ("另有加计扣除额", "plus additional deductions of"),
    "missing": ("缺少信息", "missing"),
    "review": ("需专家判断", "needs expert judgement"),
    "to_pass": ("如何达到", "what it would take"),
    "calculation": ("计算", "calculation"),
    "illustrative": ("示例性（非法定数值）", "illustrative (not law)"),
    "verified": ("已核实", "verified"),
    "synthetic": ("示例企业（虚构）", "synthetic example profile"),
    "as_of": ("评估日", "as of"),
    "tax_year": ("纳税年度", "tax year"),
    "requires": ("申报材料", "documents to provide"),
    "excluded": ("排除情形", "exclusion"),
    "effective": ("有效期", "in force"),
    "zones": ("适用地区", "zones"),
    "benefit": ("优惠内容", "benefit"),
}


def word(key: str, lang: str) -> str:
    zh, en = WORDS[key]
    return zh if lang == "zh" else en


def status_word(status: str, lang: str) -> str:
    zh, en = STATUS[status]
    return zh if lang == "zh" else en


GROUP_LANG = "incentives.group_lang"  # in click's shared context meta: `incentives --lang L`


def default_lang() -> str:
    """The language a command falls back to without its own `--lang`: the group's
    (`incentives --lang zh CMD`), else `INCENTIVES_LANG` (zh or en), else the locale's."""
    import click

    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.meta.get(GROUP_LANG) in ("zh", "en"):
        return str(ctx.meta[GROUP_LANG])
    chosen = os.environ.get("INCENTIVES_LANG", "").strip().lower()
    if chosen in ("zh", "en"):
        return chosen
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    current = locale.getlocale()[0] or ""
    return "zh" if current.lower().startswith("zh") else "en"

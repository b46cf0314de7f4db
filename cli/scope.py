"""What a report covered, in words: the zones it applied, and the policies it left out because
the enterprise is in none of their zones or the date is outside their period, counted by
reason, so that no money is hidden silently."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

from ..engine.model.creditcode import region_code
from ..engine.model.zones import Zone
from ..engine.reference.results import PolicyResult, Report


def zones_applied(report: Report, chain: Sequence[str]) -> list[str]:
    """The zones the evaluation applied: the report's own list when it has one (a zone may lie
    in several others), else `chain`, the profile's zone and those above it."""
    applied = getattr(report, "zones_applied", None)
    return list(applied) if applied else list(chain)


def zones_line(zones: Sequence[str], names: Mapping[str, Zone], lang: str) -> str | None:
    if not zones:
        return (
            "未给出所在园区：仅确定全国性政策（画像中填写 zone）"
            if lang == "zh"
            else "no zone given: only national policies are decided (set zone in the profile)"
        )
    return ("适用地区：" if lang == "zh" else "zones applied: ") + " ⊂ ".join(
        _zone_name(z, names, lang) for z in zones
    )


def zone_hint(report: Report, applied: Sequence[str], names: Mapping[str, Zone], lang: str) -> str | None:
    """A profile whose credit code was registered in a zone's region (GB/T 2260, positions
    3-8) that is not among the zones applied probably belongs there too: say how to see its
    policies. (A park inside a city is registered by the park's authority.)"""
    code = report.profile.credit_code
    if code is None or len(code) != 18:
        return None
    region = region_code(code)
    matches = [z for z in names.values() if z.region_code == region and z.id not in applied]
    if not matches:
        return None
    zone = matches[0]
    name = _zone_name(zone.id, names, lang)
    # the zones inside it that also lie in the zone stated (a 综改区 park in Taiyuan)
    here = [z.id for z in names.values() if zone.id in z.parents and set(z.parents) & set(applied)]
    if lang == "zh":
        inside = f"（位于本地的园区：{'、'.join(here)}）" if here else "（或其下属园区）"
        return (f"提示：统一社会信用代码的登记机关代码为 {region}，属于 {name}，但本次未适用该地区；"
                f"若企业位于该地区，请在画像中填写 zone: {zone.id}{inside}以查看其政策")
    inside = f" (or, here, one of its parks: {', '.join(here)})" if here else " (or a zone inside it)"
    return (f"hint: the credit code was registered under {region}, the region of {name}, which is "
            f"not among the zones applied; if the enterprise is there, set zone: {zone.id}{inside} "
            "in the profile to see its policies")  # fmt: skip


def left_out(results: Sequence[PolicyResult], report: Report) -> tuple[Counter[str], Counter[str]]:
    """The policies not in force here, as two counts: by date (`expired`, `not_yet`) and by
    the zones they apply in (their zones as written, joined)."""
    by_date: Counter[str] = Counter()
    by_zone: Counter[str] = Counter()
    day = report.as_of
    for result in results:
        if result.status.value != "not_in_force":
            continue
        if result.effective_until is not None and day > result.effective_until:
            by_date["expired"] += 1
        elif result.effective_from is not None and day < result.effective_from:
            by_date["not_yet"] += 1
        else:
            by_zone[", ".join(result.zones)] += 1
    return by_date, by_zone


def left_out_lines(
    report: Report, names: Mapping[str, Zone], lang: str, listed: bool
) -> Iterator[str]:
    """`Left out: 12 apply only in other zones — taiyuan 8, changzhi 4; 3 expired before …`."""
    by_date, by_zone = left_out(report.results, report)
    total = sum(by_date.values()) + sum(by_zone.values())
    if not total:
        return
    hint = "" if listed else ("（--all 列出）" if lang == "zh" else " (--all lists them)")
    yield (
        f"未列出 {total} 项政策{hint}：" if lang == "zh" else f"left out, {total} policies{hint}:"
    )
    if by_zone:
        zones = ", ".join(f"{_zone_name(z, names, lang)} {n}" for z, n in by_zone.most_common())
        count = sum(by_zone.values())
        yield (f"  {count} 项仅适用于其他地区：{zones}" if lang == "zh"
               else f"  {count} apply only in other zones: {zones}")  # fmt: skip
    day = report.as_of.isoformat()
    if by_date["expired"]:
        n = by_date["expired"]
        yield f"  {n} 项在 {day} 前已失效" if lang == "zh" else f"  {n} ended before {day}"
    if by_date["not_yet"]:
        n = by_date["not_yet"]
        yield f"  {n} 项在 {day} 尚未生效" if lang == "zh" else f"  {n} not yet in force on {day}"


def _zone_name(zones: str, names: Mapping[str, Zone], lang: str) -> str:
    def one(z: str) -> str:
        zone = names.get(z)
        if zone is None:
            return z
        name = zone.zh if lang == "zh" else zone.en
        return name if f"({z})" in name else f"{name} ({z})"

    return " / ".join(one(z) for z in zones.split(", "))

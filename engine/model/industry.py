"""GB/T 4754-2017 industry codes: a section letter and 2-4 digits (`C4210`, `F`, `C16`)."""

from __future__ import annotations

import re

# Division (first two digits) → section letter, GB/T 4754-2017.
_SECTIONS: list[tuple[int, int, str]] = [
    (1, 5, "A"), (6, 12, "B"), (13, 43, "C"), (44, 46, "D"), (47, 50, "E"), (51, 52, "F"),
    (53, 60, "G"), (61, 62, "H"), (63, 65, "I"), (66, 69, "J"), (70, 70, "K"), (71, 72, "L"),
    (73, 75, "M"), (76, 79, "N"), (80, 82, "O"), (83, 83, "P"), (84, 85, "Q"), (86, 90, "R"),
    (91, 96, "S"), (97, 97, "T"),
]  # fmt: skip

_CODE = re.compile(r"^([A-T])?(\d{2}(?:\d{1,2})?)?$")


def section_of(division: int) -> str | None:
    for low, high, letter in _SECTIONS:
        if low <= division <= high:
            return letter
    return None


def normalise_industry_code(raw: str) -> str:
    """`4210` → `C4210`; `c4210` → `C4210`; a letter alone is a section. Raises ValueError."""
    code = raw.strip().upper()
    match = _CODE.match(code)
    if not code or not match:
        raise ValueError(f"{raw!r} is not a GB/T 4754 code (a section letter and/or 2-4 digits)")
    letter, digits = match.group(1), match.group(2)
    if digits is None:
        return code
    section = section_of(int(digits[:2]))
    if section is None:
        raise ValueError(f"{raw!r}: division {digits[:2]} does not exist in GB/T 4754-2017")
    if letter is not None and letter != section:
        raise ValueError(
            f"{raw!r}: division {digits[:2]} belongs to section {section}, not {letter}"
        )
    return section + digits


# Named lists of industries, by GB/T 4754-2017 code prefix, that fact declarations refer to
# (`industry_share: {industries: …}`). Written once here.
INDUSTRY_LISTS: dict[str, tuple[str, ...]] = {
    # 财税〔2015〕119号 第四条: the industries excluded from the R&D super-deduction — 烟草制造业,
    # 住宿和餐饮业, 批发和零售业, 房地产业, 租赁和商务服务业, 娱乐业 (the seventh, "其他行业", names
    # none). The industries are the text's; their codes are our reading of GB/T 4754-2017.
    "rd_excluded": ("C16", "H", "F", "K", "L", "R90"),
    # 制造业: section C.
    "manufacturing": ("C",),
}


def in_industries(code: str, prefixes: tuple[str, ...]) -> bool:
    """Whether a normalised code falls under one of the prefixes (`C1610` under `C16`)."""
    return code.startswith(prefixes)

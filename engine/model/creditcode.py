"""Unified social credit code (统一社会信用代码), GB 32100-2015.

18 characters from a 31-character set (digits and capitals without I, O, S, V, Z). The 18th is a
check character: weights 3^i mod 31 over positions 1-17, `r = 31 - (Σ value×weight mod 31)`,
31 becoming 0. Positions 9-17 embed an organisation code (GB 11714) with its own mod-11 check.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {ch: i for i, ch in enumerate(CHARSET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def check_character(first17: str) -> str:
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, _WEIGHTS, strict=True))
    remainder = 31 - total % 31
    return CHARSET[0 if remainder == 31 else remainder]


def _org_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10


def org_check_character(first8: str) -> str:
    total = sum(_org_value(ch) * w for ch, w in zip(first8, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def credit_code_problem(code: str) -> str | None:
    """None when `code` is a valid credit code, else what is wrong with it, in English."""
    if len(code) != 18:
        return f"must have 18 characters, has {len(code)}"
    bad = sorted({ch for ch in code if ch not in _VALUE})
    if bad:
        return f"has characters outside the GB 32100 set (no I, O, S, V, Z): {''.join(bad)}"
    if not code[2:8].isdigit():
        return "positions 3-8 (administrative division code) must be digits"
    org_check = org_check_character(code[8:16])
    if code[16] != org_check:
        return _both_checks(code, org_check)
    expected = check_character(code[:17])
    if code[17] != expected:
        return (
            f"check character is {code[17]!r} but GB 32100 gives {expected!r} "
            f"(the code would be {code[:17]}{expected})"
        )
    return None


def _both_checks(code: str, org_check: str) -> str:
    """Both corrections at once: the embedded organisation code's check (position 17) and the
    check character computed over the corrected first 17 (position 18), so that applying the
    hint gives a valid code rather than a second error."""
    if org_check not in _VALUE:  # cannot happen for X and digits, but keep the hint honest
        return f"embedded organisation code {code[8:17]} fails its GB 11714 check"
    first17 = code[:16] + org_check
    check = check_character(first17)
    fix = f"position 17 should be {org_check!r}"
    if code[17] != check:
        fix += f" and then the check character (position 18) {check!r}"
    return (
        f"embedded organisation code {code[8:17]} fails its GB 11714 check: {fix} "
        f"(the code would be {first17}{check}), unless another character is mistyped"
    )


def region_code(code: str) -> str:
    """The GB/T 2260 division code of the registering authority (positions 3-8)."""
    return code[2:8]

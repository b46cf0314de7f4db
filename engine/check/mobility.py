"""Whether each fact a policy document declares says how the company can move it.

Opportunities rank ways by the hardest move they take, and a gap on a fixed fact is a reason,
never advice (`reference.opportunities`); a fact's `change:` says which. A fact computed from
others (a ratio, points, a sum or maximum) moves as its most movable input does, but a fact
the profile states (a `profile_fact`, a field, a financial line, IP counts, certificates,
records) has no input to take it from and would count as actionable, which reads
"individual business" or "past incidents" as advice. So each such fact must say `change:`,
and records, which count what happened, are fixed as a rule.
"""

from __future__ import annotations

from ..compile.loader import LoadedSet
from ..model.facts import dependencies
from ..model.yamlio import line_of
from .findings import Finding

_HINT = {
    "records": "records count what has happened: usually `change: fixed`",
    "certified": "a certificate the company can obtain: usually `change: actionable`",
    "ip_count": "IP the company can apply for: usually `change: actionable`",
}


def mobility_findings(loaded: LoadedSet) -> list[Finding]:
    """A warning for each document fact the profile states that declares no `change:`."""
    found = []
    for shown, doc in loaded.documents:
        lines = loaded.lines.get(shown, {})
        for index, defn in enumerate(doc.facts):
            if defn.change is not None or dependencies(defn):
                continue
            hint = _HINT.get(defn.source_kind, "say which: actionable (R&D, staff, IP, a "
                             "certificate), slow (size, past figures, years) or fixed "
                             "(industry, zone, past incidents)")  # fmt: skip
            message = (
                f"fact {defn.id} declares no `change:` and would count as actionable in "
                f"opportunities; {hint}"
            )
            found.append(
                Finding("warning", "fact-change", message, None, shown, line_of(lines, ("facts", index)))
            )
    return found

"""incentives: an eligibility rules engine for enterprise incentive policies.

    from datetime import date
    from incentives import PolicySet, load_profile

    policies = PolicySet()                       # the bundled library, compiled once
    report = policies.evaluate(load_profile("examples/jinzhong-hightech.yaml"), as_of=date(2026, 6, 1))
    report.model_dump(mode="json")               # typed results, JSON-ready

The library is `incentives.engine` (with `incentives.engine.testing` for property tests of
rule sets), the command line `incentives.cli`, the bundled policy documents
`incentives.policies`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import (
        Gap,
        InputError,
        PolicyError,
        PolicyResult,
        PolicySet,
        Problem,
        Profile,
        ProfileError,
        Report,
        Status,
        Trace,
        load_profile,
        parse_profile,
    )

__all__ = [
    "Gap",
    "InputError",
    "PolicyError",
    "PolicyResult",
    "PolicySet",
    "Problem",
    "Profile",
    "ProfileError",
    "Report",
    "Status",
    "Trace",
    "load_profile",
    "parse_profile",
]


def __getattr__(name: str) -> Any:
    # The engine's names, imported when first asked for (`incentives.engine`), so that the
    # command line starts without loading what its command does not need.
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import engine

    value = getattr(engine, name)
    globals()[name] = value
    return value

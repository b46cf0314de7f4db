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

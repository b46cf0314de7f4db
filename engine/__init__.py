"""Eligibility rules engine for enterprise incentive policies.

from incentives import PolicySet, load_profile
policies = PolicySet()                       # the bundled library, compiled once
report = policies.evaluate(load_profile("examples/jinzhong-hightech.yaml"), as_of=date(2026, 6, 1))
report.model_dump(mode="json")               # typed results, JSON-ready
"""

from .errors import (
    InputError,
    PolicyError,
    Problem,
    ProfileError,
)
from .model.profile import Profile, load_profile, parse_profile
from .policyset import PolicySet
from .reference.results import (
    Gap,
    PolicyResult,
    Report,
    Status,
    Trace,
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

"""Eligibility rules engine for enterprise incentive policies.

from incentives import PolicySet, load_profile
policies = PolicySet()                       # the bundled library, compiled once
report = policies.evaluate(load_profile("examples/jinzhong-hightech.yaml"), as_of=date(2026, 6, 1))
report.model_dump(mode="json")               # typed results, JSON-ready

The names below are imported when first asked for, so that importing a light part of the
engine (`incentives.engine.errors`, as the command line's start does) does not load the
models and the loader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# Each name's module, relative to this package.
_WHERE = {
    "InputError": ".errors",
    "PolicyError": ".errors",
    "Problem": ".errors",
    "ProfileError": ".errors",
    "Profile": ".model.profile",
    "load_profile": ".model.profile",
    "parse_profile": ".model.profile",
    "PolicySet": ".policyset",
    "Gap": ".reference.results",
    "PolicyResult": ".reference.results",
    "Report": ".reference.results",
    "Status": ".reference.results",
    "Trace": ".reference.results",
}

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
assert sorted(__all__) == sorted(_WHERE)


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where, __name__), name)
    globals()[name] = value  # asked once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})

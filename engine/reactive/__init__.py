"""Reactive eligibility on durable_rules: verdict change events as enterprise facts change.

    from incentives import PolicySet
    from incentives.engine.reactive import ReactiveSession
    with ReactiveSession(PolicySet(), as_of=date(2026, 11, 24)) as session:
        for event in session.set_facts("E1", {"employees": 120, "zone": "jinzhong-dz"}):
            print(event.to_json())

durable_rules is optional (it does not import on Python ≥ 3.13): `unavailable_reason()` says why
when it cannot be used, and `ReactiveSession` raises `DurableUnavailable`.
"""

from .compiler import ReactiveCompileError, compile_program
from .durable import DurableError, DurableUnavailable, unavailable_reason
from .session import (
    ChangeEvent,
    ReactiveSession,
    Update,
    UpdateError,
    parse_update,
)

__all__ = [
    "ChangeEvent",
    "DurableError",
    "DurableUnavailable",
    "ReactiveCompileError",
    "ReactiveSession",
    "Update",
    "UpdateError",
    "compile_program",
    "parse_update",
    "unavailable_reason",
]

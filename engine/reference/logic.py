"""Kleene three-valued logic, encoded so that `all` is `min` and `any` is `max`."""

from __future__ import annotations

from enum import IntEnum


class Truth(IntEnum):
    FALSE = 0
    UNKNOWN = 1
    TRUE = 2

    def negate(self) -> Truth:
        return NEGATED[self]


FALSE, UNKNOWN, TRUE = Truth.FALSE, Truth.UNKNOWN, Truth.TRUE
# NEGATED[t] is `not t`: a tuple lookup, where `Truth(2 - t)` would go through the Enum
# machinery on every negation the evaluator makes.
NEGATED = (TRUE, UNKNOWN, FALSE)

"""Kleene three-valued logic, encoded so that `all` is `min` and `any` is `max`."""

from __future__ import annotations

from enum import IntEnum


class Truth(IntEnum):
    FALSE = 0
    UNKNOWN = 1
    TRUE = 2

    def negate(self) -> Truth:
        return Truth(2 - self)


FALSE, UNKNOWN, TRUE = Truth.FALSE, Truth.UNKNOWN, Truth.TRUE

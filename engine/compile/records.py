"""Frozen, slotted records for the plan, made without generating code for each class.

`@record` gives a class what `@dataclass(frozen=True, slots=True)` gives it (an `__init__` over
its annotated fields in order, defaults, `field(compare=False, repr=False)`, `kw_only`,
immutability, equality, hash and repr from the fields), and type checkers read it as such
(`dataclass_transform`). It exists because the dataclass machinery compiles several methods per
class: for the thirty record types of the plan that was most of what importing the plan cost,
and a cold `incentives check` pays every millisecond of import. Here the methods are written
once and shared; building a record costs a little more, which loading pays a few thousand times
at most.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from typing_extensions import dataclass_transform

T = TypeVar("T", bound=type)
_NO_DEFAULT = object()


class Record:
    """The shared behaviour of records: immutable; equal, hashed and shown by their fields."""

    __slots__ = ()
    __record_fields__: tuple[str, ...] = ()
    __record_compared__: tuple[str, ...] = ()
    __record_shown__: tuple[str, ...] = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def _compared(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__record_compared__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash((self.__class__.__name__, self._compared()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_shown__)
        return f"{type(self).__name__}({shown})"


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: T | None = None, /, *, kw_only: bool = False) -> Any:
    """Make `cls`, a subclass of `Record`, a frozen record of its annotated fields."""

    def make(cls: T) -> T:
        return _make(cls, kw_only)

    return make if cls is None else make(cls)


def _make(cls: T, kw_only: bool) -> T:
    fields: list[str] = []
    defaults: dict[str, object] = {}
    compared: list[str] = []
    shown: list[str] = []
    for name, annotation in inspect.get_annotations(cls).items():
        if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
            continue
        fields.append(name)
        value = cls.__dict__.get(name, _NO_DEFAULT)
        compare = show = True
        if isinstance(value, dataclasses.Field):
            assert value.default_factory is dataclasses.MISSING, "records take plain defaults"
            compare, show = value.compare, value.repr
            value = _NO_DEFAULT if value.default is dataclasses.MISSING else value.default
        if value is not _NO_DEFAULT:
            defaults[name] = value
        compared += [name] * compare
        shown += [name] * show
    body = {k: v for k, v in cls.__dict__.items() if k not in fields and k != "__dict__"}
    body.update(
        __slots__=tuple(fields),
        __record_fields__=tuple(fields),
        __record_compared__=tuple(compared),
        __record_shown__=tuple(shown),
        __init__=_init(cls.__name__, tuple(fields), defaults, kw_only),
    )
    made = type(cls)(cls.__name__, cls.__bases__, body)
    made.__qualname__ = cls.__qualname__
    return made


def _init(
    name: str, fields: tuple[str, ...], defaults: dict[str, object], kw_only: bool
) -> Callable[..., None]:
    put = object.__setattr__
    spec = tuple((field, defaults.get(field, _NO_DEFAULT)) for field in fields)
    most = 0 if kw_only else len(fields)

    def __init__(self: object, *args: object, **kwargs: object) -> None:
        if len(args) > most:
            raise TypeError(f"{name}() takes {most} positional arguments")
        for field, value in zip(fields, args, strict=False):  # the rest are keywords
            put(self, field, value)
        for field, default in spec[len(args) :]:
            value = kwargs.pop(field, default)
            if value is _NO_DEFAULT:
                raise TypeError(f"{name}() needs the argument {field!r}")
            put(self, field, value)
        if kwargs:  # unknown, or given twice
            raise TypeError(f"{name}() got unexpected arguments {sorted(kwargs)}")

    return __init__

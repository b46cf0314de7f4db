"""Profiles proven valid without building the profile models' pydantic validators.

A one-profile command (`check`, `explain`) would otherwise spend more CPU building the profile
models' validators (pydantic's schema generation for six models) than on reading and
evaluating the profile. `proven_profile` reads profile data by the models' own declarations,
read off the classes — each field's annotation, default, constraints (`ge`, `le`,
`max_length`), `BeforeValidator`s, and the models' field and model validators, whose functions
it calls — and gives the `Profile` that `Profile.model_validate` gives, made with
`model_construct`.

It accepts a value only in a form it can prove the model reads as that same value: exactly a
`bool`, `int`, `str`, `date` or finite `Decimal` where the field (after its before-validators)
has that type, a `list` or `dict` of such, a mapping of known fields for a nested model, a
literal's own text, a fiscal year's digits as a mapping key. Anything else — another type
pydantic would coerce, an unknown or missing field, a validator refusing (raising anything) —
declines (`None`): the caller validates with the model, so every refusal and every message
stays the model's. A declaration the reader does not know (another validator mode, a config
option, an alias, a type it has no rule for) makes it decline every profile; the tests keep the
bundled examples accepted, and compare it with the model on generated profiles, valid and
hostile (tests/test_proven_profile.py).
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from .profile import Profile

Read = Callable[[Any], Any]


class _Declined(Exception):
    """The data is not in a form the reader proves the model reads as it does."""


class _Unknown(Exception):
    """A declaration the reader has no rule for: it then declines every profile."""


def proven_profile(data: Mapping[str, Any]) -> Profile | None:
    """The `Profile` that `Profile.model_validate(data)` gives, or None where the reader cannot
    prove it (then validate with the model: it refuses or accepts, with its own messages)."""
    try:
        read = _model_reader(Profile)
    except _Unknown:
        return None
    try:
        profile = read(data)
    except Exception:  # whatever a validator raises, the model says it
        return None
    assert isinstance(profile, Profile)
    return profile


def _decline(_: object) -> typing.NoReturn:
    raise _Declined


_PLAIN = (bool, int, str, date, Decimal)
_BOUNDS: dict[type, Callable[[Any, Any], bool]] = {
    annotated_types.Ge: lambda c, v: bool(v >= c.ge),
    annotated_types.Gt: lambda c, v: bool(v > c.gt),
    annotated_types.Le: lambda c, v: bool(v <= c.le),
    annotated_types.Lt: lambda c, v: bool(v < c.lt),
    annotated_types.MinLen: lambda c, v: len(v) >= c.min_length,
    annotated_types.MaxLen: lambda c, v: len(v) <= c.max_length,
}
# A fiscal year's digits as a JSON key (`"2024"`): pydantic reads more spellings (` 2024`,
# `2_024`, `+2024`); those go to the model.
_DIGITS = re.compile(r"[1-9][0-9]{0,17}")


def _plain(kind: type) -> Read:
    """Exactly a value of `kind` (a subclass, such as a datetime for a date, is declined)."""

    def read(value: Any) -> Any:
        if type(value) is not kind or (type(value) is Decimal and not value.is_finite()):
            raise _Declined
        return value

    return read


def _reader(annotation: Any) -> Read:
    """How a value of `annotation` is read, as pydantic's validator for it reads it."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _model_reader(annotation)
    if annotation in _PLAIN:
        return _plain(annotation)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is typing.Annotated:
        return _annotated(args[0], args[1:])
    if origin in (Union, types.UnionType):
        return _union(args)
    return _generic(annotation, origin, args)


def _generic(annotation: Any, origin: Any, args: tuple[Any, ...]) -> Read:
    """A literal, a list or a mapping."""
    if origin is Literal and all(type(arg) is str for arg in args):
        allowed = frozenset(args)
        return lambda value: value if type(value) is str and value in allowed else _decline(value)
    if origin is list and len(args) == 1:
        item = _reader(args[0])
        return lambda value: [item(v) for v in value] if type(value) is list else _decline(value)
    if origin is dict and len(args) == 2:
        return _mapping(_key_reader(args[0]), _reader(args[1]))
    raise _Unknown(annotation)


def _key_reader(annotation: Any) -> Read:
    """A mapping key: as a value, but an int key may also be written as its digits (JSON)."""
    read = _reader(annotation)
    base = get_args(annotation)[0] if get_origin(annotation) is typing.Annotated else annotation
    if base is not int:
        return read

    def key(value: Any) -> Any:
        if type(value) is str and _DIGITS.fullmatch(value):
            return read(int(value))
        return read(value)

    return key


def _mapping(key: Read, item: Read) -> Read:
    def read(value: Any) -> Any:
        if type(value) is not dict:
            raise _Declined
        out = {key(k): item(v) for k, v in value.items()}
        if len(out) != len(value):  # two keys that are one (2024 and "2024"): the model's call
            raise _Declined
        return out

    return read


def _union(members: tuple[Any, ...]) -> Read:
    """`X | None`, or a union of plain kinds (and a list of texts), where a value of exactly
    one member's type is read by that member (pydantic's smart union takes the exact match)."""
    if type(None) in members:
        rest = tuple(m for m in members if m is not type(None))
        inner = _reader(rest[0] if len(rest) == 1 else Union[rest])  # noqa: UP007
        return lambda value: None if value is None else inner(value)
    by_type: dict[type, Read] = {}
    for member in members:
        if member in _PLAIN:
            by_type[member] = _plain(member)
        elif get_origin(member) is list and get_args(member) == (str,):
            by_type[list] = _reader(member)
        else:
            raise _Unknown(member)

    def read(value: Any) -> Any:
        chosen = by_type.get(type(value))
        if chosen is None:
            raise _Declined
        return chosen(value)

    return read


def _bounds(metadata: list[Any]) -> list[Any]:
    """The constraints among a field's metadata; anything else is not known here."""
    for item in metadata:
        if type(item) not in _BOUNDS:
            raise _Unknown(item)
    return list(metadata)


def _bounded(read: Read, bounds: list[Any]) -> Read:
    """`read`, then every bound holding of what it gave (a None is not bounded)."""
    if not bounds:
        return read

    def checked(value: Any) -> Any:
        out = read(value)
        if out is not None and not all(_BOUNDS[type(b)](b, out) for b in bounds):
            raise _Declined
        return out

    return checked


def _annotated(base: Any, metadata: tuple[Any, ...]) -> Read:
    """`Annotated[base, ...]`: its before-validators (the last listed runs first), then `base`,
    then its bounds (pydantic applies them to what `base` gave)."""
    befores: list[Callable[[Any], Any]] = []
    bounds: list[Any] = []
    for item in metadata:
        if isinstance(item, BeforeValidator):
            befores.append(_one_argument(item.func))
        elif isinstance(item, FieldInfo):
            _only_bounds(item)
            bounds.extend(_bounds(item.metadata))
        else:
            bounds.extend(_bounds([item]))
    read = _bounded(_reader(base), bounds)
    for before in befores:
        read = _then(before, read)
    return read


def _only_bounds(info: FieldInfo) -> None:
    """A `Field(...)` inside an annotation that only bounds the value."""
    if info.alias is not None or info.validation_alias is not None:
        raise _Unknown(info)
    if info.default is not PydanticUndefined or info.default_factory is not None:
        raise _Unknown(info)


def _then(first: Callable[[Any], Any], read: Read) -> Read:
    return lambda value: read(first(value))


def _one_argument(func: Any) -> Callable[[Any], Any]:
    """A before-validator that takes the value alone (one taking pydantic's info is unknown)."""
    if len(inspect.signature(func).parameters) != 1:
        raise _Unknown(func)
    return typing.cast(Callable[[Any], Any], func)


class _Info:
    """What the models' field validators read of pydantic's `ValidationInfo`: the fields
    validated so far (declared above) and the field's name."""

    __slots__ = ("data", "field_name")

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.field_name = ""


Validator = Callable[[Any, _Info], Any]


def _with_info(func: Any) -> Validator:
    """A field validator (bound to its class), called as pydantic calls it: with the info when
    it takes two arguments."""
    count = len(inspect.signature(func).parameters)
    if count == 1:
        return lambda value, _: func(value)
    if count == 2:
        return typing.cast(Validator, func)
    raise _Unknown(func)


_CONFIG = frozenset({"extra", "frozen", "defer_build"})


class _Field(typing.NamedTuple):
    name: str
    required: bool
    befores: tuple[Validator, ...]  # the field validators of mode "before", in calling order
    read: Read
    afters: tuple[Validator, ...]


def _field_validators(model: type[BaseModel]) -> dict[tuple[str, str], list[Validator]]:
    """(field, mode) → the model's field validators, in the order pydantic calls them."""
    found: dict[tuple[str, str], list[Validator]] = {}
    decorators = model.__pydantic_decorators__
    if decorators.validators or decorators.root_validators:
        raise _Unknown(model)
    for decorator in decorators.field_validators.values():
        mode = decorator.info.mode
        if mode not in ("before", "after"):
            raise _Unknown(decorator)
        func = _with_info(getattr(model, decorator.cls_var_name))
        for name in decorator.info.fields:
            if name not in model.__pydantic_fields__:
                raise _Unknown(decorator)
            found.setdefault((name, mode), []).append(func)
    for (_, called), funcs in found.items():
        if called == "before":  # each wraps those defined before it: the last runs first
            funcs.reverse()
    return found


def _fields(model: type[BaseModel]) -> tuple[_Field, ...]:
    config = model.model_config
    if not set(config) <= _CONFIG or config.get("extra") != "forbid":
        raise _Unknown(model)
    validators = _field_validators(model)
    fields = []
    for name, info in model.__pydantic_fields__.items():
        if info.alias is not None or info.validation_alias is not None or info.validate_default:
            raise _Unknown(info)
        # A field's own `Annotated[...]` is kept by pydantic as its metadata, in order.
        read = _annotated(info.annotation, tuple(info.metadata))
        befores, afters = validators.get((name, "before"), []), validators.get((name, "after"), [])
        fields.append(_Field(name, info.is_required(), tuple(befores), read, tuple(afters)))
    return tuple(fields)


def _model_validators(model: type[BaseModel]) -> tuple[str, ...]:
    """The names of the model's validators of mode "after" taking the instance alone."""
    names = []
    for name, decorator in model.__pydantic_decorators__.model_validators.items():
        if decorator.info.mode != "after" or len(inspect.signature(decorator.func).parameters) != 1:
            raise _Unknown(decorator)
        names.append(name)
    return tuple(names)


@cache
def _model_reader(model: type[BaseModel]) -> Read:
    """A mapping of `model`'s fields read as `model.model_validate` reads it: fields in their
    declared order, each through its before-validators, its type and its after-validators
    (which see the fields read so far), then the model's after-validators on the instance."""
    fields, known = _fields(model), frozenset(model.__pydantic_fields__)
    after_model = _model_validators(model)

    def read(data: Any) -> Any:
        if type(data) is not dict or not known.issuperset(data):
            raise _Declined  # not a mapping, or a field the model does not have
        values: dict[str, Any] = {}
        info = _Info(values)
        for field in fields:
            if field.name not in data:
                if field.required:
                    raise _Declined
                continue
            info.field_name = field.name
            value = data[field.name]
            for before in field.befores:
                value = before(value, info)
            value = field.read(value)
            for after in field.afters:
                value = after(value, info)
            values[field.name] = value
        instance = model.model_construct(_fields_set=set(values), **values)
        for name in after_model:
            if getattr(instance, name)() is not instance:
                raise _Declined
        return instance

    return read

"""YAML reading that keeps exact numbers and remembers where every value was written.

Policy and profile files are read with PyYAML's safe loader, never `yaml.load`. Two changes:
floats become `Decimal` from their source text (so `0.6` is exactly 0.6), and every mapping key
and sequence item records its line, so that a validation error can say `hnte.yaml:42`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

Location = tuple[str | int, ...]


class _ExactLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    lowered = text.lower()
    if lowered in (".inf", "+.inf", "-.inf", ".nan"):
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a usable number", node.start_mark
        )
    return Decimal(text)


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    """A date-like scalar that is not a real date (`2020-13-01`) stays text, so that validation
    reports it against its field and line instead of failing the whole file."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
_ExactLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)

LoaderClass = type[yaml.SafeLoader] | type[yaml.CSafeLoader]
_FastLoader: LoaderClass | None = None
if yaml.__with_libyaml__:

    class _ExactCLoader(yaml.CSafeLoader):
        """The same loader on libyaml's parser: parsing is most of loading the policy library,
        and libyaml parses about ten times as fast. Tags are still resolved in Python, so a
        valid document gives the same data and lines either way (a test checks every YAML
        file in the repository)."""

    _ExactCLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
    _ExactCLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
    _FastLoader = _ExactCLoader


class YamlError(ValueError):
    """YAML that cannot be parsed; carries the line."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def load_yaml(text: str) -> tuple[Any, dict[Location, int]]:
    """Parse one YAML document; return the data and a map from data path to 1-based line."""
    if _FastLoader is not None:
        try:
            return _load(_FastLoader, text)
        except (yaml.YAMLError, ValueError, ArithmeticError):
            pass  # parse again below, so that every error is worded and placed as PyYAML does
    return _load(_ExactLoader, text)


def _load(loader_class: LoaderClass, text: str) -> tuple[Any, dict[Location, int]]:
    try:
        loader = loader_class(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, {}
            lines: dict[Location, int] = {}
            _record_lines(node, (), lines)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise YamlError(f"invalid YAML: {problem}", line) from exc
    except (yaml.YAMLError, ValueError, ArithmeticError) as exc:
        raise YamlError(f"invalid YAML: {exc}", None) from exc
    return data, lines


def _record_lines(node: yaml.Node, path: Location, lines: dict[Location, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                keys: list[str | int] = [key_node.value]
                if key_node.value.isdigit():  # `2023:` is constructed as the int 2023
                    keys.append(int(key_node.value))
                for key in keys:
                    child = (*path, key)
                    lines[child] = key_node.start_mark.line + 1
                    _record_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines)


def line_of(lines: dict[Location, int], loc: Sequence[str | int]) -> int | None:
    """The line of the deepest recorded prefix of `loc` (validators add steps YAML lacks)."""
    path: Location = ()
    best = lines.get(path)
    for step in loc:
        candidate = (*path, step)
        if candidate in lines:
            path = candidate
            best = lines[candidate]
    return best


def read_yaml_file(path: Path) -> tuple[Any, dict[Location, int]]:
    return load_yaml(path.read_text(encoding="utf-8"))

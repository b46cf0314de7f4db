"""YAML reading that keeps exact numbers, remembers where every value was written, and refuses
what YAML would otherwise read silently wrong or without bound.

Policy documents, zone files, case files and profiles are read with PyYAML's safe loader, never
`yaml.load`. What differs from plain `yaml.safe_load`:

- floats become `Decimal` from their source text (so `0.6` is exactly 0.6), and every mapping
  key and sequence item records its line, so that a validation error can say `hnte.yaml:42`;
- a key written twice in one mapping is refused with both lines (YAML keeps the last silently);
- an alias (`*name`) stands for its anchor's value as YAML says, but a file whose aliases
  expand it to more than `MAX_NODES` values (a "billion laughs" bomb) or make a value contain
  itself is refused, before anything is built from it. Merge keys (`<<: *base`) are refused:
  their rule that a key written beside them silently wins is what duplicate keys are refused for;
- nesting deeper than `MAX_DEPTH` mappings and lists is refused before anything recurses;
- integers of more than `MAX_NUMBER_DIGITS` digits, YAML 1.1's octal (`0120`), hexadecimal,
  binary and base-60 (`1:30`) integers are refused: an accountant writing `0120` means 120;
- control characters (NUL, ESC, …), tabs in indentation and a second document (`---`) are
  refused with the line and how to fix them; a file is read up to `MAX_FILE_BYTES`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .textio import DecodeError, decode

Location = tuple[str | int, ...]

# Levels of mappings and lists. A policy document needs about 2 per level of `all`/`any`
# nesting plus 5, so this leaves room for conditions 25 levels deep.
MAX_DEPTH = 64
# Values in one file once its aliases are expanded: the largest policy document of the library
# has a few thousand.
MAX_NODES = 100_000
MAX_NUMBER_DIGITS = 40
# Fifty times the largest policy document; a profile or case file is far smaller.
MAX_FILE_BYTES = 1024 * 1024

_DECIMAL_INT = re.compile(r"[-+]?(0|[1-9][0-9_]*)")


class _Refusal(yaml.MarkedYAMLError):
    """A rule of this reader broken (not a YAML syntax error): worded and placed here, so the
    fast path need not parse the file again to word it."""

    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        super().__init__(None, None, problem, mark)


def _number_problem(text: str) -> str | None:
    digits = sum(c.isdigit() for c in text)
    if digits > MAX_NUMBER_DIGITS:
        return f"a number of {digits} digits is too large to be a usable number"
    return None


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    problem = _number_problem(text)
    if problem is None and not _DECIMAL_INT.fullmatch(text):
        problem = (
            f"{text!r} would be read as an octal, hexadecimal, binary or base-60 number; "
            "write a plain decimal number, or quote it to keep it as text"
        )
    if problem is not None:
        raise _Refusal(problem, node.start_mark)
    return int(text.replace("_", ""))


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")
    lowered = text.lower()
    problem = _number_problem(text.split("e")[0].split("E")[0])
    if lowered in (".inf", "+.inf", "-.inf", ".nan"):
        problem = f"{text!r} is not a usable number"
    elif ":" in text:
        problem = f"{text!r} would be read as a base-60 number; quote it or write a decimal"
    if problem is not None:
        raise _Refusal(problem, node.start_mark)
    return Decimal(text)


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    """A date-like scalar that is not a real date (`2020-13-01`) stays text, so that validation
    reports it against its field and line instead of failing the whole file."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


def _key_identity(key: object) -> object:
    # `2023:` and `'2023':` are the same fiscal year once a profile is validated.
    return str(key) if type(key) is int else key


class _Strict:
    """What both loaders share: refusal of duplicate keys while constructing a mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[attr-defined]
            try:
                identity = _key_identity(key)
                first = seen.get(identity)
            except TypeError:
                continue  # an unhashable key: PyYAML refuses it below
            line = key_node.start_mark.line + 1
            if first is not None:
                raise _Refusal(
                    f"key {key!r} is written twice in one mapping (lines {first} and {line}); "
                    "keep one of them",
                    key_node.start_mark,
                )
            seen[identity] = line
        return super().construct_mapping(node, deep)  # type: ignore[misc, no-any-return]


class _ExactLoader(_Strict, yaml.SafeLoader):
    """The reference loader: PyYAML's own parser, with the depth checked while composing (so
    that a deeply nested file never reaches Python's recursion limit)."""

    def compose_document(self) -> yaml.Node | None:
        self._depth = 0
        return super().compose_document()

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refusal(
                f"nested deeper than {MAX_DEPTH} levels of mappings and lists",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        node = super().compose_node(parent, index)  # type: ignore[arg-type]
        self._depth -= 1
        return node


def _add_constructors(loader: type[yaml.SafeLoader] | type[yaml.CSafeLoader]) -> None:
    loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
    loader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)
    loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


_add_constructors(_ExactLoader)

LoaderClass = type[yaml.SafeLoader] | type[yaml.CSafeLoader]
_FastLoader: LoaderClass | None = None
if yaml.__with_libyaml__:

    class _ExactCLoader(_Strict, yaml.CSafeLoader):
        """The same loader on libyaml's parser: parsing is most of loading the policy library,
        and libyaml parses about ten times as fast. Tags are still resolved in Python, so a
        valid document gives the same data and lines either way (a test checks every YAML
        file in the repository). This reader's own rules are checked on the composed
        nodes and worded at once; a YAML syntax error is parsed again by the reference
        loader, which words it."""

    _add_constructors(_ExactCLoader)
    _FastLoader = _ExactCLoader


class YamlError(ValueError):
    """YAML that cannot be used; carries the line."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _Refused(YamlError):
    """A YamlError from one of this reader's own rules."""


def load_yaml(text: str) -> tuple[Any, dict[Location, int]]:
    """Parse one YAML document; return the data and a map from data path to 1-based line."""
    if _FastLoader is not None:
        try:
            return _load(_FastLoader, text)
        except _Refused:
            raise  # one of this reader's rules, worded already
        except (yaml.YAMLError, ValueError, ArithmeticError, RecursionError):
            pass  # parse again below, so that every error is worded and placed as PyYAML does
    return _load(_ExactLoader, text)


def _load(loader_class: LoaderClass, text: str) -> tuple[Any, dict[Location, int]]:
    try:
        loader = loader_class(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, {}
            lines = _inspect(node)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise YamlError(
            f"invalid YAML: control character U+{exc.character:04X} at line {line}; "
            "remove it (only tab, newline and printable text are allowed)",
            line,
        ) from exc
    except _Refusal as exc:
        error = _marked_error(exc)
        raise _Refused(str(error), error.line) from exc
    except yaml.MarkedYAMLError as exc:
        raise _marked_error(exc) from exc
    except (yaml.YAMLError, ValueError, ArithmeticError) as exc:
        raise YamlError(f"invalid YAML: {exc}", None) from exc
    return data, lines


def _marked_error(exc: yaml.MarkedYAMLError) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = exc.problem or exc.context or "invalid YAML"
    if "\\t" in problem or "tab" in problem:
        problem += "; indent with spaces, not tabs"
    elif "expected a single document" in str(exc.context) or "another document" in problem:
        problem = "a file holds one YAML document; remove the second one (after '---')"
    return YamlError(f"invalid YAML: {problem}", line)


_Entry = tuple[yaml.Node, Location, int, "_Entry | None"]  # node, path, depth, parent


def _inspect(root: yaml.Node) -> dict[Location, int]:
    """The line map of a composed document, walked without recursion and with aliases
    expanded; refuses a merge key, nesting deeper than MAX_DEPTH and more than MAX_NODES values
    (a value that contains itself is both)."""
    lines: dict[Location, int] = {}
    stack: list[_Entry] = [(root, (), 1, None)]
    count = 0
    distinct: set[int] = set()  # fewer than `count` when aliases repeat a value
    while stack:
        entry = stack.pop()
        node, path, depth, _ = entry
        count += 1
        distinct.add(id(node))
        if depth > MAX_DEPTH or count > MAX_NODES:
            raise _expansion_error(entry, count > MAX_NODES, len(distinct) < count)
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise _Refusal(
                        "merge keys (<<) are not supported; write the fields out",
                        key_node.start_mark,
                    )
                if isinstance(key_node, yaml.ScalarNode):
                    # `2023:` is constructed as the int 2023; line_of finds it under either
                    child = (*path, key_node.value)
                    lines[child] = key_node.start_mark.line + 1
                    stack.append((value_node, child, depth + 1, entry))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                stack.append((item, (*path, index), depth + 1, entry))
    return lines


def _expansion_error(entry: _Entry, too_many: bool, aliased: bool) -> _Refusal:
    seen: set[int] = set()
    current: _Entry | None = entry
    while current is not None:
        if id(current[0]) in seen:
            problem = "an alias makes a value contain itself (a recursive alias)"
            return _Refusal(problem, current[0].start_mark)
        seen.add(id(current[0]))
        current = current[3]
    if too_many and aliased:
        problem = (
            f"its aliases expand the file to more than {MAX_NODES:,} values; "
            "write it with fewer aliases (*name)"
        )
    elif too_many:
        problem = f"more than {MAX_NODES:,} values; no policy, case or profile file needs as many"
    else:
        problem = f"nested deeper than {MAX_DEPTH} levels of mappings and lists"
    return _Refusal(problem, entry[0].start_mark)


def line_of(lines: dict[Location, int], loc: Sequence[str | int]) -> int | None:
    """The line of the deepest recorded prefix of `loc` (validators add steps YAML lacks)."""
    path: Location = ()
    best = lines.get(path)
    for step in loc:
        candidate = (*path, step)
        if candidate not in lines and type(step) is int:
            candidate = (*path, str(step))  # a key written `2023:` is recorded as text
        if candidate in lines:
            path = candidate
            best = lines[candidate]
    return best


def read_text(path: Path, encoding: str | None = None, *, encoding_option: bool = True) -> str:
    """A policy, zone, case or profile file as text: at most MAX_FILE_BYTES, decoded by
    `textio.decode` (byte-order marks, `--encoding`). Raises OSError for a file that cannot be
    read, and YamlError with the line of the first bad byte (and the encoding the file probably
    is in) for one that is no text in the encoding. Without `encoding_option` (policy files are
    always UTF-8) the advice is to save the file as UTF-8 rather than to pass --encoding."""
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise OSError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not a policy or profile file")
    try:
        return decode(data, str(path), encoding)
    except DecodeError as exc:
        message = exc.summary.removeprefix(f"{path}:{exc.line}: ")
        if not encoding_option:
            message = message.replace(" or pass --encoding", "")
            message = re.sub(r"pass --encoding \S+", "save it as UTF-8", message)
        raise YamlError(message, exc.line) from None


def read_yaml_file(path: Path, encoding: str | None = None) -> tuple[Any, dict[Location, int]]:
    return load_yaml(read_text(path, encoding))


class _PlainDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # `load_yaml` refuses aliases, so a value used twice is written twice


def dump_yaml(data: Any) -> str:
    """YAML that `load_yaml` reads back: no aliases, Unicode as it is, keys in their order."""
    return yaml.dump(data, Dumper=_PlainDumper, allow_unicode=True, sort_keys=False)

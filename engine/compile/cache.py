"""The bundled library, compiled once and kept between runs, so that a command that starts
afresh (`incentives check`) does not read, validate and plan every document again.

An entry holds what loading gives (`LoadedSet`: the plan, fact declarations, zones, and the
documents as written, which are unpickled only when read). It is kept under a key that is a
hash of every input: the bytes of every file the loader reads (each policy document and
`zones.yaml` of the library, found as the loader finds them), the engine code that makes and
defines what is kept (`engine/compile`, `engine/model` with the catalogue and the built-in
zones, `engine/reference`, `engine/errors.py`; it stands in for the engine's version, and is
stricter), and the versions of Python, pydantic and PyYAML. Any change to any of
them is a new key, and an entry of another key is never read.

A cache never changes an answer: an entry that cannot be read, is truncated or corrupt (its
checksum does not match), was written for another key, or is not the user's own file (another
owner, or writable by others) is ignored, and the library is loaded and the entry written
again. Entries are written to a temporary file in the same directory and renamed over the old
one, so a concurrent run reads either the old entry or the new, never half of one; a
directory that cannot be created or written (a read-only or missing home) only means nothing
is kept. A set whose files have problems is never kept: loading it reports them.

Only the bundled library is kept (`PolicySet()`); a directory given by the user
(`--policies`) is loaded afresh each time, so the cache holds one entry per installation.

Where: `$INCENTIVES_CACHE_DIR` if set, else `$XDG_CACHE_HOME/incentives`, else
`~/.cache/incentives`; `INCENTIVES_NO_CACHE=1` turns it off. Entries are pickles: reading one
trusts the cache directory as much as the user's own site-packages (whoever can write there
can run code as the user either way).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pickle
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import Problem
from ..model.zones import Zones
from .files import ZONES_FILE, bundled_policies, document_files, shown_name
from .loaded import LoadedSet, Written
from .plan import SetPlan
from .records import Record

DIRECTORY_VARIABLE = "INCENTIVES_CACHE_DIR"
OFF_VARIABLE = "INCENTIVES_NO_CACHE"
MAGIC = b"incentives compiled library, format 1\n"
# The engine's code that makes or defines what an entry holds, relative to the engine package.
CODE = ("compile", "model", "reference")
CODE_FILES = ("errors.py",)
_DIGEST = 32  # bytes of a SHA-256


def load_set(directory: Path | None) -> LoadedSet:
    """The set in `directory` (`compile.loader.load`); for None, the bundled library, from the
    cache when an entry of its key is there."""
    return _load(directory) if directory is not None else load_library()


def load_library() -> LoadedSet:
    """The bundled library: the cache's entry if it matches every input, else loaded (and kept
    when the inputs did not change while loading)."""
    root = bundled_policies()
    where = cache_directory()
    key = None if where is None else library_key(root)
    if where is None or key is None:
        return _load(root)
    entry = where / entry_name(root)
    found = read_entry(entry, key)
    if found is None:
        found = _load(root)
        if library_key(root) == key:  # not edited while it was loaded
            write_entry(entry, key, found)
    return found


def _load(root: Path) -> LoadedSet:
    from .loader import load  # the documents' models: only when loading

    return load(root)


def cache_directory() -> Path | None:
    """Where entries are kept, or None when the cache is off or there is no home to keep them."""
    if os.environ.get(OFF_VARIABLE, "") not in ("", "0"):
        return None
    chosen = os.environ.get(DIRECTORY_VARIABLE)
    if chosen:
        return Path(chosen)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "incentives"
    try:
        return Path.home() / ".cache" / "incentives"
    except (RuntimeError, KeyError):  # no home directory known
        return None


def entry_name(root: Path) -> str:
    """One entry per library directory and Python: a new key replaces the old entry."""
    where = f"{root.resolve()}\0{sys.implementation.cache_tag}".encode()
    return f"library-{hashlib.sha256(where).hexdigest()[:16]}.pickle"


def library_key(root: Path) -> bytes | None:
    """The hash of every input of loading `root`, or None when its files have problems (then
    loading reports them, and nothing is kept)."""
    problems: list[Problem] = []
    files = document_files(root, problems)
    if problems:
        return None
    zones = root / ZONES_FILE
    inputs = [(shown_name(path, root), path) for path in files]
    if zones.is_file():
        inputs.append((ZONES_FILE, zones))
    key = hashlib.sha256(MAGIC)
    key.update("\0".join(_versions()).encode())
    try:
        for name, path in (*_code_files(), *inputs):
            data = path.read_bytes()
            key.update(f"{name}\0{len(data)}\0".encode())
            key.update(data)
    except OSError:
        return None  # loading says what cannot be read
    return key.digest()


def _versions() -> tuple[str, ...]:
    """Python's, and those of the libraries whose objects an entry holds (pydantic's models) or
    whose reading made them (PyYAML's)."""
    import pydantic
    import pydantic_core
    import yaml

    tag = sys.implementation.cache_tag or ""
    return (sys.version, tag, pydantic.VERSION, pydantic_core.__version__, yaml.__version__)


def _code_files() -> Iterator[tuple[str, Path]]:
    engine = Path(__file__).resolve().parent.parent
    for package in CODE:
        for path in sorted((engine / package).iterdir()):
            if path.suffix in (".py", ".yaml"):
                yield f"{package}/{path.name}", path
    for name in CODE_FILES:
        yield name, engine / name


# --- entries -----------------------------------------------------------------------------------


def read_entry(entry: Path, key: bytes) -> LoadedSet | None:
    """The set kept in `entry` under `key`, or None if there is none that can be trusted."""
    try:
        with open(entry, "rb") as file:
            if not _own(os.fstat(file.fileno())):
                return None
            data = file.read()
    except OSError:
        return None
    head = len(MAGIC)
    if data[:head] != MAGIC or data[head : head + _DIGEST] != key:
        return None
    body = data[head + 2 * _DIGEST :]
    if hashlib.sha256(body).digest() != data[head + _DIGEST : head + 2 * _DIGEST]:
        return None  # truncated or corrupt
    try:
        plan, facts, zones, written = pickle.loads(body)
    except Exception:  # a checksum that matches a body that does not load
        return None
    kinds = ((plan, SetPlan), (facts, MappingProxyType), (zones, Zones), (written, bytes))
    if not all(isinstance(value, kind) for value, kind in kinds):
        return None
    return LoadedSet(facts=facts, zones=zones, plan=plan, written=_later(written))


def _own(stat: os.stat_result) -> bool:
    """The user's own file, which no one else may write."""
    getuid = getattr(os, "getuid", None)
    return (getuid is None or stat.st_uid == getuid()) and not stat.st_mode & 0o022


def _later(written: bytes) -> Any:
    def unpickled() -> Written:
        value = pickle.loads(written)
        assert isinstance(value, Written)
        return value

    return unpickled


def write_entry(entry: Path, key: bytes, loaded: LoadedSet) -> None:
    """Keep `loaded` in `entry` under `key`, atomically; a directory that cannot be written
    keeps nothing."""
    try:
        written = _dumps(Written(loaded.documents, loaded.locations, loaded.lines))
        body = _dumps((loaded.plan, loaded.facts, loaded.zones, written))
    except (pickle.PicklingError, TypeError, AttributeError):
        return  # something the plan holds cannot be kept: load afresh each time
    data = MAGIC + key + hashlib.sha256(body).digest() + body
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".library-", suffix=".tmp")
    except OSError:
        return
    kept = False
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, entry)
        kept = True
    except OSError:
        pass
    finally:
        if not kept:
            with contextlib.suppress(OSError):
                os.unlink(temporary)


class _Pickler(pickle.Pickler):
    """Pickles the plan: read-only mappings as mappings, records field by field (they refuse
    the attribute setting that pickle's default state would do)."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is MappingProxyType:
            return _read_only, (dict(obj),)
        if isinstance(obj, Record):
            return _record, (type(obj), tuple(getattr(obj, f) for f in obj.__record_fields__))
        return NotImplemented


def _dumps(value: object) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def _read_only(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _record(cls: type[Record], values: tuple[object, ...]) -> Record:
    made = object.__new__(cls)
    setters = _SETTERS.get(cls) or _setters(cls)
    for put, value in zip(setters, values, strict=True):
        put(made, value)
    return made


# Each record class's slot setters in field order: what `object.__setattr__` ends up calling,
# without looking each slot up again (an entry holds a couple of thousand records).
_SETTERS: dict[type[Record], tuple[Any, ...]] = {}


def _setters(cls: type[Record]) -> tuple[Any, ...]:
    setters = _SETTERS[cls] = tuple(getattr(cls, name).__set__ for name in cls.__record_fields__)
    return setters

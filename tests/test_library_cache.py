"""The compiled library's cache (`engine.compile.cache`) never changes an answer: an entry is
read only under its own key and checksum, from the user's own file; anything else is ignored
and the library loaded and kept again; writers never leave half an entry."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from incentives.engine import PolicySet, load_profile
from incentives.engine.compile import cache
from incentives.engine.compile.files import bundled_policies
from incentives.engine.compile.loaded import LoadedSet
from incentives.engine.compile.loader import load
from incentives.engine.compile.records import Record
from incentives.engine.version import policy_set_version

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv(cache.DIRECTORY_VARIABLE, str(where))
    monkeypatch.delenv(cache.OFF_VARIABLE, raising=False)
    return where


@pytest.fixture(scope="module")
def fresh() -> LoadedSet:
    return load(None)


def _entry(where: Path) -> Path:
    return where / cache.entry_name(bundled_policies())


def _key() -> bytes:
    key = cache.library_key(bundled_policies())
    assert key is not None
    return key


def everything(value: Any) -> Any:
    """Every field of `value`, those that equality leaves out included (where a thing is
    written, a bound's wording), as plain nested data in a fixed order."""
    if isinstance(value, Record):
        return (type(value).__name__, tuple(everything(getattr(value, f)) for f in value.__record_fields__))
    if isinstance(value, BaseModel):
        return (type(value).__name__, everything(value.model_dump()))
    if isinstance(value, Mapping):
        return tuple(sorted((repr(k), everything(v)) for k, v in value.items()))
    if isinstance(value, frozenset | set):
        return tuple(sorted(repr(everything(v)) for v in value))
    if isinstance(value, tuple | list):
        return tuple(everything(v) for v in value)
    assert value is None or isinstance(value, str | int | Decimal | date), type(value)
    return (type(value).__name__, value)


def assert_same(cached: LoadedSet, fresh: LoadedSet) -> None:
    assert everything(cached.plan) == everything(fresh.plan)
    assert cached.facts == fresh.facts
    assert cached.zones == fresh.zones
    assert cached.documents == fresh.documents
    assert (cached.locations, cached.lines) == (fresh.locations, fresh.lines)


def test_an_entry_is_written_then_read_and_holds_what_loading_gives(
    cache_dir: Path, fresh: LoadedSet
) -> None:
    assert not _entry(cache_dir).exists()
    first = cache.load_library()  # loaded, then kept
    assert _entry(cache_dir).is_file()
    found = cache.read_entry(_entry(cache_dir), _key())
    assert found is not None
    assert_same(found, fresh)
    assert_same(first, fresh)
    assert not any(p.name.endswith(".tmp") for p in cache_dir.iterdir())


def test_a_set_from_the_cache_answers_as_a_set_loaded_afresh(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.load_library()
    cached = PolicySet()
    monkeypatch.setenv(cache.OFF_VARIABLE, "1")
    afresh = PolicySet()
    for example in sorted((ROOT / "examples").glob("*.yaml")):
        profile = load_profile(example)
        for explain in (False, True):
            a = cached.evaluate(profile, date(2026, 11, 24), explain=explain)
            b = afresh.evaluate(profile, date(2026, 11, 24), explain=explain)
            assert a.model_dump_json() == b.model_dump_json(), example.name
    some = cached.policies[0].id
    assert cached.definition(some) == afresh.definition(some)
    assert policy_set_version(cached) == policy_set_version(afresh)  # documents, facts, zones


def _valid_entry(cache_dir: Path) -> bytes:
    cache.load_library()
    return _entry(cache_dir).read_bytes()


def _with_checksum(key: bytes, body: bytes) -> bytes:
    return cache.MAGIC + key + hashlib.sha256(body).digest() + body


def _bad_entries(valid: bytes) -> Iterator[tuple[str, bytes]]:
    head = len(cache.MAGIC) + 64
    body = valid[head:]
    yield "garbage", b"\x80\x04garbage, not an entry"
    yield "empty", b""
    yield "truncated", valid[: len(valid) // 2]
    yield "a body byte changed", valid[:-10] + bytes([valid[-10] ^ 1]) + valid[-9:]
    yield "another key", _with_checksum(hashlib.sha256(b"another").digest(), body)
    yield "another format", b"incentives compiled library, format 0\n" + valid[len(cache.MAGIC) :]
    key = valid[len(cache.MAGIC) : len(cache.MAGIC) + 32]
    yield "a checksummed body that is not a pickle", _with_checksum(key, b"not a pickle")
    yield "a checksummed pickle of other things", _with_checksum(key, cache._dumps((1, 2, 3, 4)))


def test_a_bad_entry_is_ignored_and_replaced(cache_dir: Path, fresh: LoadedSet) -> None:
    valid = _valid_entry(cache_dir)
    entry = _entry(cache_dir)
    for what, data in _bad_entries(valid):
        entry.write_bytes(data)
        assert cache.read_entry(entry, _key()) is None, what
        if what in ("garbage", "truncated", "another key"):  # each a whole load: three suffice
            assert cache.load_library().plan == fresh.plan
            assert entry.read_bytes() == valid, what  # written again


def test_an_entry_others_may_write_is_not_read(cache_dir: Path) -> None:
    _valid_entry(cache_dir)
    entry = _entry(cache_dir)
    entry.chmod(0o666)
    assert cache.read_entry(entry, _key()) is None
    entry.chmod(0o600)
    assert cache.read_entry(entry, _key()) is not None


def test_an_unwritable_or_absent_cache_directory_keeps_nothing_and_breaks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: LoadedSet
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.delenv(cache.OFF_VARIABLE, raising=False)
    monkeypatch.setenv(cache.DIRECTORY_VARIABLE, str(blocker / "cache"))
    assert cache.load_library().plan == fresh.plan
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o500)
    monkeypatch.setenv(cache.DIRECTORY_VARIABLE, str(read_only))
    assert cache.load_library().plan == fresh.plan  # (as root, it is writable all the same)
    for name in (cache.DIRECTORY_VARIABLE, "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: (_ for _ in ()).throw(RuntimeError)))
    assert cache.cache_directory() is None
    assert cache.load_library().plan == fresh.plan


def test_where_the_cache_is_and_how_to_turn_it_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(cache.DIRECTORY_VARIABLE, raising=False)
    monkeypatch.delenv(cache.OFF_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_directory() == tmp_path / "incentives"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_directory() == tmp_path / "home" / ".cache" / "incentives"
    monkeypatch.setenv(cache.OFF_VARIABLE, "1")
    assert cache.cache_directory() is None
    monkeypatch.setenv(cache.OFF_VARIABLE, "0")
    assert cache.cache_directory() is not None


def test_only_the_bundled_library_is_kept(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    PolicySet(bundled_policies())  # a directory given: loaded afresh
    assert not cache_dir.exists()
    monkeypatch.setenv(cache.OFF_VARIABLE, "1")
    PolicySet()
    assert not cache_dir.exists()


def test_an_edited_library_has_another_key(tmp_path: Path) -> None:
    library = tmp_path / "policies"
    library.mkdir()
    for document in sorted(bundled_policies().rglob("*.yaml"))[:3]:
        (library / document.name).write_bytes(document.read_bytes())
    before = cache.library_key(library)
    first = sorted(library.glob("*.yaml"))[0]
    first.write_bytes(first.read_bytes() + b"\n# a comment\n")
    assert before is not None and cache.library_key(library) not in (None, before)
    (library / "bad.yml").write_text("x: 1\n")
    assert cache.library_key(library) is None  # a file the loader refuses: nothing kept


# Each writer loads the library repeatedly, removing the entry in between, so that the two
# processes write and read the same entry at once; every set they get must be the library.
WRITER = """
import contextlib, sys
from incentives.engine.compile import cache
from incentives.engine.compile.files import bundled_policies
from incentives.engine.compile.loader import load
fresh = load(None)
entry = cache.cache_directory() / cache.entry_name(bundled_policies())
for _ in range(2):
    loaded = cache.load_library()
    assert loaded.plan == fresh.plan and loaded.facts == fresh.facts, "another set"
    with contextlib.suppress(FileNotFoundError):
        entry.unlink()
    cache.load_library()
print("ok")
"""


def test_concurrent_writers_never_read_half_an_entry(cache_dir: Path) -> None:
    env = {**os.environ, cache.DIRECTORY_VARIABLE: str(cache_dir)}
    env.pop(cache.OFF_VARIABLE, None)
    pipe = subprocess.PIPE
    command = [sys.executable, "-c", WRITER]
    writers = [
        subprocess.Popen(command, cwd=ROOT, env=env, text=True, stdout=pipe, stderr=pipe)
        for _ in range(2)
    ]
    for writer in writers:
        out, err = writer.communicate(timeout=120)
        assert writer.returncode == 0 and out.strip() == "ok", err
    assert cache.read_entry(_entry(cache_dir), _key()) is not None
    assert not any(p.name.endswith(".tmp") for p in cache_dir.iterdir())

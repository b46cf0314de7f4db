"""The only module that imports durable_rules: a narrow, typed, guarded adapter.

durable-rules 2.0.28 (unmaintained C with a thin Python layer) has sharp edges, each measured
and shown by a test in tests/test_reactive_guards.py. Each guard below names the edge it holds:

* `QuietHost` never starts the two polling `threading.Timer` loops of `engine.Host`, which burn
  CPU and occasionally steal an action so the synchronous call returns `None`.
* Nothing here touches `durable.lang` or its global `get_host()` singleton: every `Engine` owns
  its host, and rulesets are built from dicts, never from decorators.
* `GuardedRuleset` serialises messages and rulesets with `dumps`, which always writes a float
  with a `.` in its mantissa (`1e-05` → `1.0e-05`): durable's C JSON parser rejects the former
  (error 204). durable's own module `json` is left alone.
* Each call returns the set of rules that fired (an `$or` with k true branches fires k times),
  and raises `DurableError` if an action raised (durable stores the exception in the state and
  goes on) or if the call returned no state (an action ran elsewhere).
* One caller at a time: every call holds the engine's lock (concurrent calls on one sid lose
  results).
* `delete_state` is only called for sids that ran an action: callers must register a catch-all
  rule (the compiler does), and `Engine` refuses to delete sids it never saw fire.
* `MAX_SIDS` live sids per ruleset: the 1,025th raises `MemoryError` inside durable, so `Engine`
  refuses before that; callers shard enterprises over rulesets.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import json
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

MAX_SIDS = 1000  # durable allows 1,024 live sids per ruleset; we keep a margin

try:
    import durable_rules_engine as _native
    from durable import engine as _engine

    IMPORT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the interpreter
    _native = None
    _engine = None
    IMPORT_ERROR = str(exc)


class DurableUnavailable(RuntimeError):
    """durable-rules cannot be imported here (not installed, or Python ≥ 3.13)."""


class DurableError(RuntimeError):
    """durable_rules failed, or an action raised, while handling one message."""


def unavailable_reason() -> str | None:
    """None when durable_rules works here, else a plain sentence saying why not."""
    if IMPORT_ERROR is None:
        return None
    import sys

    version = ".".join(map(str, sys.version_info[:2]))
    if sys.version_info >= (3, 13):
        why = (
            f"durable-rules 2.0.28 does not work on Python {version}: its C extension calls "
            "PyEval_CallObject, which Python 3.13 removed (fixed upstream, never released)"
        )
    else:
        why = "durable-rules is not installed: pip install 'incentives[reactive]'"
    return (
        f"{why}; the durable back end needs it and Python 3.10–3.12 (the default indexed "
        f"engine does not). ({IMPORT_ERROR})"
    )


def require() -> None:
    reason = unavailable_reason()
    if reason is not None:
        raise DurableUnavailable(reason)


# --- JSON that durable's C parser accepts -----------------------------------------------------


def _float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"durable_rules cannot hold the number {value!r}")
    text = repr(value)
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def dumps(value: Any) -> str:
    """JSON for durable: like `json.dumps`, but every float keeps a `.` in its mantissa."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{dumps(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"durable_rules cannot hold {type(value).__name__} {value!r}")


# --- host and rulesets ------------------------------------------------------------------------

Action = Callable[[Any], None]


def _quiet_host() -> Any:
    class QuietHost(_engine.Host):  # type: ignore[misc]
        """engine.Host without the polling timer threads (`_run`)."""

        def _run(self) -> None:
            return None

    return QuietHost()


def _guarded_ruleset_class() -> Any:
    class GuardedRuleset(_engine.Ruleset):  # type: ignore[misc]
        """engine.Ruleset whose messages and definition go through `dumps`."""

        def __init__(self, name: str, host: Any, definition: dict[str, Any]) -> None:
            self._actions = {}
            self._name = name
            self._host = host
            for rule_name, rule in definition.items():
                self._actions[rule_name] = _engine.Promise(rule.pop("run"))
            self._handle = _native.create_ruleset(name, dumps(definition))
            self._definition = definition

        def assert_fact(self, fact: dict[str, Any]) -> Any:
            return self._handle_result(_native.assert_fact(self._handle, dumps(fact)), fact)

        def retract_fact(self, fact: dict[str, Any]) -> Any:
            return self._handle_result(_native.retract_fact(self._handle, dumps(fact)), fact)

    return GuardedRuleset


def trim_memory() -> None:
    """Give freed native memory back to the OS (glibc keeps it otherwise)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class Engine:
    """One durable host with its own rulesets; every call under one lock.

    Rules are `{name: {"all"|"any": [...], "run": callable}}` dicts (durable's JSON format);
    `register` takes a fresh dict each time (durable deletes `run` from the caller's dict).
    """

    def __init__(self) -> None:
        require()
        self._host = _quiet_host()
        self._ruleset_class = _guarded_ruleset_class()
        self._lock = threading.Lock()
        self._fired: list[str] = []
        self._errors: list[BaseException] = []
        self._live: dict[str, set[str]] = {}  # ruleset -> sids that ran an action

    def register(self, name: str, rules: Mapping[str, Mapping[str, Any]]) -> None:
        definition: dict[str, Any] = {}
        for rule_name, rule in rules.items():  # a fresh copy: durable deletes "run" from it
            body = copy.deepcopy({k: v for k, v in rule.items() if k != "run"})
            definition[rule_name] = {**body, "run": self._action(rule_name, rule["run"])}
        with self._lock:
            if name in self._host._ruleset_directory:
                raise DurableError(f"ruleset {name!r} is already registered")
            ruleset = self._ruleset_class(name, self._host, definition)
            self._host._ruleset_directory[name] = ruleset
            self._host._ruleset_list.append(ruleset)
            self._live[name] = set()

    def _action(self, rule_name: str, run: Action) -> Action:
        fired, errors = self._fired, self._errors

        def action(c: Any) -> None:
            try:
                run(c)
            except BaseException as exc:  # raised again by _call, never swallowed
                errors.append(exc)
                raise
            fired.append(rule_name)

        return action

    def live_sids(self, name: str) -> int:
        return len(self._live[name])

    def _call(self, name: str, method: str, message: dict[str, Any]) -> set[str]:
        sid = str(message["sid"])
        with self._lock:
            live = self._live[name]
            if sid not in live and len(live) >= MAX_SIDS:
                raise DurableError(
                    f"ruleset {name!r} already holds {MAX_SIDS} sessions (durable's cap is 1,024)"
                )
            self._fired.clear()
            self._errors.clear()
            try:
                state = getattr(self._host, method)(name, message)
            except (_engine.MessageNotHandledException, _engine.MessageObservedException) as exc:
                raise DurableError(exc.message) from None
            except Exception as exc:
                raise DurableError(f"durable_rules failed on {method} in {name!r}: {exc}") from exc
            fired = set(self._fired)
            if fired:
                live.add(sid)
            if self._errors:
                raise DurableError(f"an action raised: {self._errors[0]!r}") from self._errors[0]
            if method == "assert_fact" and state is None:
                raise DurableError("durable returned no state: an action ran outside this call")
            if isinstance(state, dict) and state.get("exception"):
                raise DurableError(f"an action raised: {state['exception']}")
            return fired

    def assert_fact(self, name: str, fact: dict[str, Any]) -> set[str]:
        """Assert a fact (it needs `sid` and `id`); the names of the rules that fired, once each."""
        return self._call(name, "assert_fact", fact)

    def retract_fact(self, name: str, sid: str, fact_id: str) -> None:
        self._call(name, "retract_fact", {"sid": sid, "id": fact_id})

    def delete_state(self, name: str, sid: str) -> None:
        with self._lock:
            live = self._live[name]
            if sid not in live:
                raise DurableError(
                    f"sid {sid!r} never ran an action in {name!r}: deleting it would crash durable"
                )
            self._host.delete_state(name, sid)
            live.discard(sid)

    def close(self) -> None:
        """Delete every state, then every ruleset; the engine cannot be used afterwards."""
        with self._lock:
            for name, sids in self._live.items():
                ruleset = self._host._ruleset_directory[name]
                for sid in sids:
                    ruleset.delete_state(sid)
                sids.clear()
                _native.delete_ruleset(ruleset._handle)
            self._host._ruleset_directory.clear()
            self._host._ruleset_list.clear()
            self._live.clear()
        trim_memory()

"""Searching a policy's scenarios for broken invariants: what `incentives prop` runs. First
the boundary enumeration (`boundaries`: deterministic, every bound walked), then a random
search for what enumeration does not reach."""

from __future__ import annotations

from dataclasses import dataclass

from ..policyset import PolicySet
from .boundaries import boundary_scenarios
from .invariants import Invariant, Invariants, _checks
from .profiles import scenarios
from .scenarios import InvariantFailure, Scenario


@dataclass(frozen=True)
class Counterexample:
    """A broken invariant found by `find_counterexamples`, with its shrunk scenario."""

    invariant: str
    policy_id: str
    message: str
    scenario: Scenario
    found_by: str = "search"  # or "boundary": the enumeration of bounds found it


@dataclass(frozen=True)
class PolicyRun:
    """What `prop` did for one policy: the counterexamples, how many boundary scenarios it
    checked, and why the condition could not be solved for a scenario that meets it (None when
    it could)."""

    policy_id: str
    counterexamples: list[Counterexample]
    boundary_scenarios: int
    unsolved: str | None


def run_policy(
    policy_set: PolicySet,
    policy_id: str,
    examples: int = 100,
    seed: int = 0,
    invariants: Invariants | None = None,
) -> PolicyRun:
    """The boundary enumeration, then `examples` random scenarios for the invariants it did not
    break: one counterexample per broken invariant."""
    checks = _checks(invariants)
    cases, unsolved = boundary_scenarios(policy_set, policy_id)
    found: list[Counterexample] = []
    broken: set[str] = set()  # the checks that failed (or crashed), by name
    for scenario in cases:
        for name in [n for n in checks if n not in broken]:
            failure = _check(checks[name], name, policy_set, policy_id, scenario)
            if failure is not None:
                broken.add(name)
                found.append(Counterexample(failure.invariant, policy_id, failure.message,
                                            scenario, "boundary"))  # fmt: skip
    rest = {name: check for name, check in checks.items() if name not in broken}
    if rest and examples > 0:
        found += find_counterexamples(policy_set, policy_id, examples, seed, rest, boundaries=False)
    return PolicyRun(policy_id, found, len(cases), unsolved)


def _check(
    check: Invariant, name: str, policy_set: PolicySet, policy_id: str, scenario: Scenario
) -> InvariantFailure | None:
    try:
        check(policy_set, policy_id, scenario)
    except InvariantFailure as exc:
        return exc
    except Exception as exc:  # a crash of the engine is a finding too
        failure = InvariantFailure(
            "no-crash", policy_id, f"{type(exc).__name__}: {exc} (while checking {name})"
        )
        failure.during = name
        return failure
    return None


def find_counterexamples(
    policy_set: PolicySet,
    policy_id: str,
    examples: int = 100,
    seed: int = 0,
    invariants: Invariants | None = None,
    boundaries: bool = True,
) -> list[Counterexample]:
    """Search for scenarios that break the invariants of one policy; return one shrunk
    counterexample per broken invariant (same `seed`, same result). `invariants` are names of
    built-in ones or a mapping of names to checks, so a policy's own rules can be searched too.
    An exception escaping a check (the engine's or the check's own) is reported as the
    invariant `no-crash`. With `boundaries` (the default) the boundary enumeration runs first
    (`run_policy`)."""
    if boundaries:
        return run_policy(policy_set, policy_id, examples, seed, invariants).counterexamples
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as seeded

    strategy = scenarios(policy_set, policy_id)
    config = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=False,
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    searching = settings(config, phases=[Phase.explicit, Phase.generate])

    def first_failure(names: list[str], shrink: bool) -> tuple[InvariantFailure, Scenario] | None:
        failures: list[tuple[InvariantFailure, Scenario]] = []

        def body(scenario: Scenario) -> None:
            for name in names:
                try:
                    checks[name](policy_set, policy_id, scenario)
                except InvariantFailure as exc:
                    failures.append((exc, scenario))
                    raise
                except Exception as exc:  # a crash of the engine is a finding too
                    failure = InvariantFailure(
                        "no-crash",
                        policy_id,
                        f"{type(exc).__name__}: {exc} (while checking {name})",
                    )
                    failure.during = name
                    failures.append((failure, scenario))
                    raise failure from exc

        test = seeded(seed)((config if shrink else searching)(given(strategy)(body)))
        try:
            test()
        except Exception:
            if not failures:
                raise
            return failures[-1]  # the last run is hypothesis's replay of the shrunk example
        return None

    checks = _checks(invariants)
    remaining = list(checks)
    found: list[Counterexample] = []
    while remaining:
        # Search with every invariant, then shrink with only the one that broke (much faster).
        hit = first_failure(remaining, shrink=False)
        if hit is None:
            break
        broken = hit[0].invariant
        only = broken if broken in remaining else hit[0].during
        shrunk = first_failure([only], shrink=True) or hit
        failure, scenario = shrunk
        found.append(Counterexample(failure.invariant, policy_id, failure.message, scenario))
        if broken not in remaining:
            break
        remaining.remove(broken)
    return found

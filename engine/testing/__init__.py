"""Property testing of rule sets: hypothesis strategies derived from the schemas, and the
built-in invariants every policy must satisfy.

Needs the `testing` extra (`pip install 'incentives[testing]'`); nothing else in `engine`
imports this module. A pytest user checks a rule set in a few lines:

    from hypothesis import given
    from incentives import PolicySet
    from incentives.engine.testing import check_all, scenarios

    POLICIES = PolicySet("my/policies")

    @given(scenarios(POLICIES, "my.zone.policy-id"))
    def test_my_policy(scenario):
        check_all(POLICIES, "my.zone.policy-id", scenario)

A *scenario* is a profile (as data, the way `incentives check` reads it), an evaluation date,
a second random profile used to fill in unknown facts (soundness), and a step size (monotonicity).
Every invariant is a plain function `check_x(policy_set, policy_id, scenario)` that raises
`InvariantFailure`; `INVARIANTS` maps their names to them.

The strategies read the policy set's plan (`engine.compile.plan`): thresholds, bands, caps,
periods and each fact's source. The invariants are oracles and are written apart from the
evaluators they check (`invariants`). Modules: `scenarios` (the data of a case), `profiles`
(profile strategies), `inputs` (giving facts values through the profile), `invariants`,
`search` (counterexamples), `documents` (random policy sets).
"""

from __future__ import annotations

from .documents import (
    catalogue_facts,
    condition_trees,
    fact_declarations,
    leaf_conditions,
    policy_documents,
    policy_sets,
    write_policy_set,
)
from .inputs import assign
from .invariants import (
    INVARIANTS,
    check_all,
    check_amounts,
    check_determinism,
    check_explanation,
    check_in_force,
    check_monotone,
    check_report_amounts,
    check_report_stacking,
    check_soundness,
    check_stacking,
)
from .profiles import (
    evaluation_dates,
    money,
    profile_data,
    quantities,
    scenarios,
    targets,
    threshold_profile_data,
)
from .scenarios import InvariantFailure, Scenario, fill_in, profile_yaml, valid_data
from .search import Counterexample, find_counterexamples

__all__ = [
    "INVARIANTS",
    "Counterexample",
    "InvariantFailure",
    "Scenario",
    "assign",
    "catalogue_facts",
    "check_all",
    "check_amounts",
    "check_determinism",
    "check_explanation",
    "check_in_force",
    "check_monotone",
    "check_report_amounts",
    "check_report_stacking",
    "check_soundness",
    "check_stacking",
    "condition_trees",
    "evaluation_dates",
    "fact_declarations",
    "fill_in",
    "find_counterexamples",
    "leaf_conditions",
    "money",
    "policy_documents",
    "policy_sets",
    "profile_data",
    "profile_yaml",
    "quantities",
    "scenarios",
    "targets",
    "threshold_profile_data",
    "valid_data",
    "write_policy_set",
]

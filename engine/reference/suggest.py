"""What a profile most likely meant by a `facts:` key no policy of the set declares: the
closest names it may state (a typo, `sound_acounting` for `sound_accounting`), or, for the id
of a fact the engine computes from the profile's own fields (`rd_intensity`), those fields."""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any


def undeclared_fact(name: str, stated: Mapping[str, Any], facts: Mapping[str, Any]) -> str:
    """The message for `facts.<name>`: `stated` are the facts a profile may state, by name
    (`profile_fact_defs`), `facts` every fact's plan by id."""
    message = f"facts.{name}: not declared in the fact catalogue of this policy set"
    computed = facts.get(name)
    if computed is not None and computed.profile_fact is None:
        inputs = ", ".join(sorted(computed.profile_inputs)) or "the profile"
        return f"{message}; {name} is computed from {inputs}: state those instead"
    close = get_close_matches(name, list(stated), n=3, cutoff=0.75)
    if close:
        return f"{message}; did you mean {' or '.join(close)}?"
    return message

"""The service answers exactly what the library answers, for generated profiles (the engine's own
hypothesis strategies) sent over HTTP to the real server."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from incentives.engine import PolicySet, parse_profile
from incentives.engine.model.jsonio import load_json
from incentives.engine.testing import evaluation_dates, profile_data

EXAMPLES = examples(25)  # each is one request with explanation and gaps, about 30 ms on a quiet machine
POLICIES = PolicySet()


def _text(value: Any) -> str:
    if isinstance(value, Decimal | date):
        return str(value)
    raise TypeError(type(value))


@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_the_service_answers_what_the_library_answers(service: Any, data: st.DataObject) -> None:
    as_of = data.draw(evaluation_dates())
    body = json.dumps(data.draw(profile_data(POLICIES, as_of)), default=_text, ensure_ascii=False)
    explain = data.draw(st.booleans())
    with service.client() as http:
        response = http.post("/v1/check", params={"as_of": as_of.isoformat(), "explain": explain},
                             content=body.encode(), headers={"content-type": "application/json"})  # fmt: skip
    assert response.status_code == 200, response.text
    # The service names the request body as the profile's file, in messages and warnings alike.
    profile = parse_profile(load_json(body), file="body")
    expected = POLICIES.evaluate(profile, as_of, explain=explain)
    assert response.json() == expected.model_dump(mode="json")
    assert response.headers["evaluation-date"] == as_of.isoformat()

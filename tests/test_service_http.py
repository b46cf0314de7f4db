"""`incentives serve` over HTTP: the real server (one per session, `service` in conftest) answers
what the command line prints, every failure is problem details, and `/openapi.json` describes
the bodies it sends."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_schemas import STANDARD, keywords

from incentives.cli.main import main

httpx = pytest.importorskip("httpx")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").iterdir())
AS_OF = "2026-11-24"
PROBLEM = "application/problem+json"


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(main, [*args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def media(path: Path) -> str:
    return "application/json" if path.suffix == ".json" else "application/yaml"


def problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    """The response is problem details of this status and kind, with no traceback in it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "Traceback" not in response.text and 'File "' not in response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].endswith(f"/{kind}")
    assert body["title"] and body["request_id"] == response.headers["x-request-id"]
    assert body["policy_set_version"] == response.headers["policy-set-version"]
    return body


@pytest.fixture(scope="module")
def http(service: Any) -> Any:
    with service.client() as client:
        yield client


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_check_answers_what_the_cli_prints(http: Any, example: Path) -> None:
    response = http.post(
        f"/v1/check?as_of={AS_OF}&explain=true",
        content=example.read_bytes(),
        headers={"content-type": media(example)},
    )
    assert response.status_code == 200, response.text
    assert response.json() == cli_json(
        "check", str(example), "--as-of", AS_OF, "--format", "json", "--explain"
    )
    assert response.headers["evaluation-date"] == AS_OF
    assert (
        response.headers["policy-set-version"] == http.get("/readyz").json()["policy_set_version"]
    )
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["policy-set-version"])


def test_check_without_explanation_or_gaps(http: Any, policies: Any) -> None:
    example = ROOT / "examples" / "gaoping-led.yaml"
    full = http.post(f"/v1/check?as_of={AS_OF}", content=example.read_bytes(),
                     headers={"content-type": "application/yaml"}).json()  # fmt: skip
    bare = http.post(f"/v1/check?as_of={AS_OF}&gaps=false", content=example.read_bytes(),
                     headers={"content-type": "application/yaml"}).json()  # fmt: skip
    assert all(r["trace"] is None for r in full["results"])
    assert any(r["gaps"] for r in full["results"]) and not any(r["gaps"] for r in bare["results"])
    assert [r["status"] for r in full["results"]] == [r["status"] for r in bare["results"]]
    assert full["total"] == bare["total"]


def test_explain_is_the_cli_explanation(http: Any) -> None:
    example = ROOT / "examples" / "gaoping-led.yaml"
    policy = "national.tech-sme.evaluation"
    response = http.post(f"/v1/policies/{policy}/explain?as_of={AS_OF}",
                         content=example.read_bytes(), headers={"content-type": "application/yaml"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json() == cli_json(
        "explain", str(example), policy, "--as-of", AS_OF, "--format", "json"
    )


def test_list_and_show_match_the_cli(http: Any) -> None:
    assert http.get("/v1/policies").json() == cli_json("list", "--format", "json")
    assert http.get("/v1/policies?zone=gaoping").json() == cli_json(
        "list", "--zone", "gaoping", "--format", "json"
    )
    policy = "national.hnte.certification"
    assert http.get(f"/v1/policies/{policy}").json() == cli_json("show", policy, "--format", "json")


def test_facts_zones_and_schemas(http: Any) -> None:
    facts = {f["id"]: f for f in http.get("/v1/facts").json()}
    assert facts["rd_intensity_3y"]["zh"] and facts["rd_intensity_3y"]["en"]
    zones = {z["id"]: z for z in http.get("/v1/zones").json()}
    assert zones["jinzhong-dz"]["parent"] == ["zgq", "jinzhong"]  # a zone may lie in several
    assert zones["taiyuan"]["parent"] == "shanxi"
    for kind in ("profile", "policy", "cases", "zones"):
        response = http.get(f"/v1/schemas/{kind}")
        assert response.headers["content-type"] == "application/schema+json"
        assert response.json() == cli_json("schema", kind)
    problem(http.get("/v1/schemas/everything"), 400, "invalid-parameter")


def test_the_pages_load_nothing_from_elsewhere(http: Any) -> None:
    for path in ("/", "/docs", "/redoc"):
        page = http.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert linked and all(url.startswith(("/", "data:")) for url in linked), linked
        assert "https://" not in page.text and "http://" not in page.text
        for url in linked:
            if url.startswith("/") and url != "/docs":
                assert http.get(url).status_code == 200, url
    assert "default-src 'self'" in http.get("/").headers["content-security-policy"]


def test_health(http: Any) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz").json()
    assert ready["status"] == "ready" and ready["policies"] == len(
        cli_json("list", "--format", "json")
    )


def test_an_invalid_profile_is_422_with_every_field_and_its_line(http: Any) -> None:
    body = (
        "credit_code: 91140171MA0K000215\nemployees: -3\nfinancials:\n  2025:\n    revenue: lots\n"
    )
    response = http.post(
        "/v1/check", content=body.encode(), headers={"content-type": "application/yaml"}
    )
    errors = problem(response, 422, "invalid-profile")["errors"]
    assert {(e["path"], e["line"]) for e in errors} == {
        ("credit_code", 1),
        ("employees", 2),
        ("financials.2025.revenue", 5),
    }
    assert {e["pointer"] for e in errors} >= {"#/employees", "#/financials/2025/revenue"}
    assert all(e["message"] for e in errors)


def test_a_profile_that_does_not_fit_the_set_is_422_naming_the_fields(http: Any) -> None:
    body = {"zone": "atlantis", "facts": {"bogus": True}}
    errors = problem(http.post("/v1/check", json=body), 422, "invalid-profile")["errors"]
    assert {e["path"] for e in errors} == {"zone", "facts.bogus"}
    assert "known zones" in next(e["message"] for e in errors if e["path"] == "zone")
    assert (
        problem(http.post("/v1/check?zone=atlantis", json={}), 422, "invalid-profile")["errors"][0][
            "path"
        ]
        == "zone"
    )


@pytest.mark.parametrize(
    ("body", "kind", "words"),
    [
        (b'{"employees": 1,\n "employees": 2}', "application/json", "written twice"),
        (b'{"employees": ', "application/json", "invalid JSON"),
        (b"employees: [1\n", "application/yaml", "invalid YAML"),
        (b"a: &x [1]\nb: *x\n", "application/yaml", "aliases"),
        (b"", "application/json", "empty"),
        (b"- 1\n- 2\n", "application/yaml", "mapping"),
        (b"name: \xe4\xb8\n", "application/yaml", "not valid"),
    ],
    ids=["duplicate-key", "json", "yaml", "alias", "empty", "list", "bytes"],
)
def test_malformed_bodies_are_400(http: Any, body: bytes, kind: str, words: str) -> None:
    detail = problem(
        http.post("/v1/check", content=body, headers={"content-type": kind}), 400, "malformed-body"
    )["detail"]
    assert words in detail


def test_other_failures_are_problems(http: Any, service: Any) -> None:
    bad_date = problem(http.post("/v1/check?as_of=2026-13-01", json={}), 400, "invalid-parameter")
    assert bad_date["errors"][0]["path"] == "query.as_of"
    assert (
        "did you mean"
        in problem(
            http.post("/v1/policies/national.hnte.certifcation/explain", json={}),
            404,
            "unknown-policy",
        )["detail"]
    )
    problem(http.get("/v1/policies/no.such"), 404, "unknown-policy")
    problem(http.get("/v1/nothing-here"), 404, "not-found")
    problem(http.get("/v1/check"), 405, "method-not-allowed")
    problem(
        http.post("/v1/check", content=b"<x/>", headers={"content-type": "text/xml"}),
        415,
        "unsupported-media-type",
    )
    big = b'{"name": "' + b"x" * (1 << 20) + b'"}'
    problem(
        http.post("/v1/check", content=big, headers={"content-type": "application/json"}),
        413,
        "body-too-large",
    )
    chunks = iter(
        [b'{"name": "', b"x" * (1 << 20), b'"}']
    )  # no Content-Length: counted as it comes
    problem(
        http.post("/v1/check", content=chunks, headers={"content-type": "application/json"}),
        413,
        "body-too-large",
    )
    english = problem(http.get("/v1/nothing-here?lang=en"), 404, "not-found")
    assert english["title"] == "Not found"
    assert http.get("/healthz").status_code == 200  # still serving
    assert "Traceback" not in service.output()


def test_request_ids_are_echoed_or_made(http: Any) -> None:
    given = http.get("/healthz", headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = http.get("/healthz", headers={"x-request-id": "not a valid id"})
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


def test_a_bug_is_a_500_problem_without_the_traceback() -> None:
    from fastapi import FastAPI

    from incentives.service import create_app

    app: FastAPI = create_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internal detail")

    async def get() -> Any:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/boom")

    response = asyncio.run(get())
    body = problem(response, 500, "internal-error")
    assert "secret" not in response.text and body["detail"]


def test_profile_validation_normalises(http: Any) -> None:
    response = http.post("/v1/profile", content="employees: 86人\nfinancials: {2025: {revenue: 4200万元}}\ncredit_code: 91140171ma0k000214\n".encode(),
                         headers={"content-type": "application/yaml"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json() == {"credit_code": "91140171MA0K000214", "synthetic": False, "employees": "86",
                               "financials": {"2025": {"revenue": "42000000"}}, "facts": {}}  # fmt: skip


# --- the OpenAPI description -----------------------------------------------------------------


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def test_openapi_describes_the_bodies_sent(http: Any, tmp_path: Path) -> None:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    document = http.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1.")
    components = document["components"]["schemas"]
    assert all(ref.removeprefix("#/components/schemas/") in components for ref in _refs(document))
    assert "HTTPValidationError" not in components
    for name, component in components.items():  # standard JSON Schema, as OpenAPI 3.1 wants
        assert keywords(component) <= STANDARD | {"discriminator"}, (
            name,
            keywords(component) - STANDARD,
        )
    for path, operation in (("/v1/check", "post"), ("/v1/policies/{policy_id}/explain", "post")):
        described = document["paths"][path][operation]
        assert described["requestBody"]["content"]["application/yaml"]["schema"] == {
            "$ref": "#/components/schemas/Profile"
        }
        assert set(described["responses"]) >= {"200", "400", "413", "415", "422"}
        assert PROBLEM in described["responses"]["422"]["content"]

    registry = Registry().with_resource("urn:openapi", Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **document}))  # fmt: skip

    def validator(name: str) -> Any:
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                  "$ref": f"urn:openapi#/components/schemas/{name}"}  # fmt: skip
        return Draft202012Validator(schema, registry=registry)

    example = str(ROOT / "examples" / "jinzhong-hightech.yaml")
    validator("Report").validate(cli_json("check", example, "--as-of", AS_OF, "--format", "json"))
    explained = cli_json(
        "explain", example, "national.hnte.certification", "--as-of", AS_OF, "--format", "json"
    )
    validator("PolicyResult").validate(explained)
    validator("PolicyDetail").validate(http.get("/v1/policies/national.hnte.certification").json())
    validator("ProblemDetails").validate(http.post("/v1/check", json={"employees": -3}).json())
    profile = validator("Profile")
    assert profile.is_valid({"employees": "86人", "financials": {"2025": {"revenue": "4200万元"}}})
    assert not profile.is_valid({"employees": -3})


# --- registers -------------------------------------------------------------------------------


def _register(tmp_path: Path) -> Path:
    from incentives.engine import load_profile

    lines = [load_profile(p).model_dump_json(exclude_none=True) for p in EXAMPLES]
    lines.insert(1, '{"employees": "many"}')
    lines.insert(3, "{not json")
    path = tmp_path / "register.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _screen_cli(register: Path, tmp_path: Path, *options: str) -> list[dict[str, Any]]:
    out = tmp_path / "cli.jsonl"
    result = CliRunner().invoke(
        main,
        ["screen", str(register), "--as-of", AS_OF, "--format", "jsonl", "--out", str(out), *options],
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_a_register_upload_is_screened_as_the_cli_screens_it(http: Any, tmp_path: Path) -> None:
    register = _register(tmp_path)
    response = http.post(f"/v1/screen?as_of={AS_OF}", content=register.read_bytes(),
                         headers={"content-type": "application/x-ndjson"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in response.text.splitlines()]
    bad = [line for line in lines if "error" in line]
    assert [b["row"] for b in bad] == [2, 4]
    assert "employees" in bad[0]["error"] and "invalid JSON" in bad[1]["error"]
    results = [line for line in lines if "policy_id" in line]
    assert results == _screen_cli(register, tmp_path)
    assert lines[-1] == {"rows": len(EXAMPLES) + 2, "bad": 2, "results": len(results)}


def test_a_register_is_screened_for_the_tax_year_asked_as_the_cli_screens_it(
    http: Any, tmp_path: Path
) -> None:
    register = _register(tmp_path)

    def screened(query: str) -> list[dict[str, Any]]:
        response = http.post(f"/v1/screen?as_of={AS_OF}{query}", content=register.read_bytes(),
                             headers={"content-type": "application/x-ndjson"})  # fmt: skip
        assert response.status_code == 200, response.text
        return [row for line in response.text.splitlines() if "policy_id" in (row := json.loads(line))]

    rows = screened("&tax_year=2022")
    assert rows == _screen_cli(register, tmp_path, "--tax-year", "2022")
    fy2022 = {(r["row"], r["policy_id"]): r["status"] for r in rows}
    unasked = screened("")
    assert unasked == screened("&tax_year=2025")  # the year before as_of
    default = {(r["row"], r["policy_id"]): r["status"] for r in unasked}
    rate_100, rate_75 = "national.rd-super-deduction.rate-100", "national.rd-super-deduction.rate-75"
    assert {s for (_, p), s in fy2022.items() if p == rate_100} == {"not_in_force"}
    assert {s for (_, p), s in default.items() if p == rate_75} == {"not_in_force"}
    assert {s for (_, p), s in fy2022.items() if p == rate_75} != {"not_in_force"}
    problem(http.post(f"/v1/screen?as_of={AS_OF}&tax_year=1800", content=register.read_bytes(),
                      headers={"content-type": "application/x-ndjson"}), 400, "invalid-parameter")  # fmt: skip


def test_a_csv_register_and_its_limits(http: Any, tmp_path: Path) -> None:
    csv_text = "credit_code,zone,employees,financials.2025.revenue\n91140171MA0K000214,taiyuan,10,100万元\n,gaoping,x,\n"
    register = tmp_path / "register.csv"
    register.write_text(csv_text, encoding="utf-8")
    response = http.post(
        f"/v1/screen?as_of={AS_OF}", content=csv_text.encode(), headers={"content-type": "text/csv"}
    )
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line for line in lines if "policy_id" in line] == _screen_cli(register, tmp_path)
    assert [line["row"] for line in lines if "error" in line] == [3]
    problem(
        http.post("/v1/screen", content=b"{}", headers={"content-type": "application/json"}),
        415,
        "unsupported-media-type",
    )
    problem(
        http.post("/v1/screen", content=b"a\n" * (3 << 20), headers={"content-type": "text/csv"}),
        413,
        "body-too-large",
    )

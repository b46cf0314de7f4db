"""The HTTP application: routes over one loaded policy set, problem details for every failure,
the policy set's version and the request id on every response, and the 政策计算器 page.

Request and response bodies are the engine's own models (`Report`, `PolicyResult`, `Profile`,
`FactDef`, `Zone`), so `/openapi.json` describes what `incentives check --format json` prints.
Evaluation runs in the worker's thread pool; the policy set is shared, read-only, by all.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from datetime import date
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..engine import InputError, PolicyResult, Profile, Report
from ..engine.model.facts import FactDef
from ..engine.model.profile import FISCAL_YEARS
from ..engine.model.zones import Zone
from ..engine.reference.evaluate import default_as_of
from ..engine.schema import KINDS, profile_schema, schema_of, standardise
from . import bodies, catalogue, register
from .decisions import DecisionLog, enterprise, statuses
from .problems import (
    ProblemDetails,
    ServiceProblem,
    documented,
    install,
    language,
    problem_response,
)
from .settings import Settings
from .state import Holder, Loaded

VERSION_HEADER = "Policy-Set-Version"
DATE_HEADER = "Evaluation-Date"
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = logging.getLogger("incentives.service")

Lang = Annotated[
    Literal["zh", "en"] | None,
    Query(description="language of problem titles and Content-Language (default: Accept-Language, else zh); results carry both"),
]  # fmt: skip
AsOf = Annotated[
    date | None,
    Query(description="evaluation date: which policies are in force and which year is 'last year' (default: today)"),
]  # fmt: skip
TaxYear = Annotated[
    int | None,
    Query(ge=FISCAL_YEARS[0], le=FISCAL_YEARS[1],
          description="tax year (纳税年度) of tax-year preferences (default: the year before as_of)"),
]  # fmt: skip


def _body(*media: str, schema: str, description: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"} if schema else {"type": "string"}
    return {"requestBody": {"required": True, "description": description,
                            "content": {m: {"schema": ref} for m in media}}}  # fmt: skip


PROFILE_BODY = _body(
    *bodies.JSON_TYPES, *bodies.YAML_TYPES[:1], schema="Profile",
    description="an enterprise profile, as JSON or YAML (every field optional)",
)  # fmt: skip
REGISTER_BODY = _body(
    *bodies.JSONL_TYPES[:1], *bodies.CSV_TYPES, schema="",
    description="a register: JSON Lines (one profile per line) or CSV (flat columns, as `incentives screen` reads them)",
)  # fmt: skip


class _Context:
    """ASGI middleware: every HTTP request gets the current policy set (kept for the whole
    request) and a request id; every response says both. A failure no handler took becomes a
    500 problem, never a traceback."""

    def __init__(self, app: ASGIApp, holder: Holder) -> None:
        self.app = app
        self.holder = holder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loaded = self.holder.current
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER.lower().encode(), b"")
        request_id = (
            given.decode("latin-1")
            if _REQUEST_ID.match(given.decode("latin-1"))
            else uuid.uuid4().hex
        )
        state = scope.setdefault("state", {})
        state.update(policies=loaded, request_id=request_id)
        extra = [(VERSION_HEADER.lower().encode(), loaded.version.encode()),
                 (REQUEST_ID_HEADER.lower().encode(), request_id.encode())]  # fmt: skip
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if started:
                raise
            log.exception("request %s failed", request_id)
            problem = ServiceProblem(500, "internal-error",
                                     "the error is in the server's log under this request id")  # fmt: skip
            response = problem_response(Request(scope), problem)
            await response(scope, receive, send_with_headers)


def _loaded(request: Request) -> Loaded:
    loaded: Loaded = request.state.policies
    return loaded


def _json(content: str | bytes, request: Request, day: date | None = None) -> Response:
    headers = {"Content-Language": language(request)}
    if day is not None:
        headers[DATE_HEADER] = day.isoformat()
    return Response(content, media_type="application/json", headers=headers)


def create_app(settings: Settings | None = None, holder: Holder | None = None) -> FastAPI:
    """The application for `settings` (default: the bundled library), answering with `holder`'s
    policy set (default: loaded now from `settings.policies`)."""
    settings = settings or Settings()
    holder = holder or Holder(settings.policies)
    decisions = None if settings.decision_log is None else DecisionLog(settings.decision_log)
    app = FastAPIOffline(
        title="incentives",
        summary="Enterprise incentive policies: verdicts, amounts and explanations",
        description=_DESCRIPTION,
        version=_package_version(),
    )
    app.state.holder = holder
    install(app)
    app.add_middleware(_Context, holder=holder)
    _evaluation_routes(app, settings, decisions)
    _catalogue_routes(app)
    _page_routes(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """The application factory for uvicorn's worker processes (`--workers N`). A worker whose
    policy set does not load says why and exits before it answers anything (so that a reload
    by SIGHUP keeps the workers it has)."""
    settings = Settings.from_environment()
    try:
        return create_app(settings)
    except InputError as exc:
        log.error("worker not started: %s", exc.render())
        raise SystemExit(3) from None  # uvicorn's "startup failure"


def _record(
    decisions: DecisionLog | None, request: Request, loaded: Loaded, day: date,
    profile: Profile, results: list[PolicyResult], total: Any = None,
) -> None:  # fmt: skip
    if decisions is not None:
        decisions.record(
            request_id=request.state.request_id, path=request.url.path, version=loaded.version,
            as_of=day, about=enterprise(profile), verdicts=statuses(results),
            total=None if total is None else str(total),
        )  # fmt: skip


def _evaluation_routes(app: FastAPI, settings: Settings, decisions: DecisionLog | None) -> None:
    @app.post("/v1/check", response_model=Report, tags=["evaluate"], openapi_extra=PROFILE_BODY,
              responses=documented(400, 413, 415, 422))  # fmt: skip
    async def check(
        request: Request, as_of: AsOf = None, tax_year: TaxYear = None, lang: Lang = None,
        zone: Annotated[str | None, Query(description="evaluate as if the enterprise were in this zone")] = None,
        explain: Annotated[bool, Query(description="add each policy's evaluated condition tree (trace)")] = False,
        gaps: Annotated[bool, Query(description="for ineligible policies, what it would take to pass")] = True,
    ) -> Response:  # fmt: skip
        """Every policy for one profile: verdict, amount after stacking, what is missing, what
        it would take; the same object as `incentives check --format json`."""
        loaded = _loaded(request)
        profile = await bodies.read_profile(request, settings.max_body)
        day = as_of or default_as_of()
        report = await run_in_threadpool(
            loaded.policy_set.evaluate, profile, day, zone=zone, tax_year=tax_year,
            explain=explain, gaps=gaps,
        )
        _record(decisions, request, loaded, day, profile, report.results, report.total)
        return _json(report.model_dump_json(), request, day)

    @app.post("/v1/policies/{policy_id}/explain", response_model=PolicyResult, tags=["evaluate"],
              openapi_extra=PROFILE_BODY, responses=documented(400, 404, 413, 415, 422))  # fmt: skip
    async def explain(
        request: Request, policy_id: Annotated[str, Path(description="e.g. national.hnte.certification")],
        as_of: AsOf = None, tax_year: TaxYear = None, lang: Lang = None,
    ) -> Response:  # fmt: skip
        """One policy for one profile, criterion by criterion (`incentives explain --format json`)."""
        loaded = _loaded(request)
        catalogue.known_policy(loaded.policy_set, policy_id)
        profile = await bodies.read_profile(request, settings.max_body)
        day = as_of or default_as_of()
        result = await run_in_threadpool(
            loaded.policy_set.explain, profile, policy_id, day, tax_year
        )
        _record(decisions, request, loaded, day, profile, [result])
        return _json(result.model_dump_json(), request, day)

    @app.post("/v1/profile", tags=["evaluate"], openapi_extra=PROFILE_BODY,
              responses={200: {"description": "the profile, normalised", "content": {
                  "application/json": {"schema": {"$ref": "#/components/schemas/Profile"}}}},
                  **documented(400, 413, 415, 422)})  # fmt: skip
    async def validate_profile(request: Request, lang: Lang = None) -> Response:
        """Read and check a profile against this policy set (zone, declared facts) without
        evaluating it; answer with it normalised (amounts in yuan, codes in capitals)."""
        profile = await bodies.read_profile(request, settings.max_body)
        _loaded(request).policy_set.check_profile(profile)
        return _json(profile.model_dump_json(exclude_none=True), request)

    @app.post("/v1/screen", tags=["evaluate"], openapi_extra=REGISTER_BODY,
              responses={200: {"description": "JSON Lines: ScreenedRow per enterprise × policy, BadRow per bad row, then ScreenEnd",
                               "content": {register.MEDIA_TYPE: {"schema": {"anyOf": [
                                   {"$ref": f"#/components/schemas/{name}"}
                                   for name in ("ScreenedRow", "BadRow", "ScreenEnd")]}}}},
                         **documented(400, 413, 415)})  # fmt: skip
    async def screen(
        request: Request, as_of: AsOf = None, tax_year: TaxYear = None, lang: Lang = None
    ) -> Response:
        """Screen a small register (bounded in bytes and rows) against every policy, streamed
        back as JSON Lines in the columns of `incentives screen --format jsonl` (`tax_year` as
        `screen --tax-year`: the tax-year preferences of that year, default the year before
        `as_of`)."""
        try:
            import polars  # noqa: F401
        except ImportError:
            raise ServiceProblem(
                501, "not-available", "screening needs polars: pip install 'incentives[serve]'"
            ) from None
        kind, charset = bodies.media_type(request)
        fmt = "jsonl" if kind in bodies.JSONL_TYPES else "csv" if kind in bodies.CSV_TYPES else None
        if fmt is None:
            raise ServiceProblem(415, "unsupported-media-type",
                                 f"{kind!r}: send application/x-ndjson (JSON Lines) or text/csv")  # fmt: skip
        text = bodies.text_of(
            await bodies.read_body(request, settings.max_register), charset, "register"
        )
        loaded = _loaded(request)
        numbered, flat = register.read_rows(
            text, fmt, settings.max_register_rows, loaded.policy_set.facts
        )
        day = as_of or default_as_of()
        lines = register.screened_lines(loaded, numbered, flat, day, decisions,
                                        request.state.request_id, tax_year)  # fmt: skip
        return StreamingResponse(lines, media_type=register.MEDIA_TYPE,
                                 headers={DATE_HEADER: day.isoformat()})  # fmt: skip


def _catalogue_routes(app: FastAPI) -> None:
    @app.get("/v1/policies", response_model=list[catalogue.PolicySummary], tags=["policies"],
             responses=documented(400))  # fmt: skip
    def list_policies(
        request: Request, lang: Lang = None,
        zone: Annotated[str | None, Query(description="only policies that apply in this zone (national ones included)")] = None,
    ) -> list[catalogue.PolicySummary]:  # fmt: skip
        """The policies with zones, effective dates, provenance and benefit
        (`incentives list --format json`)."""
        return catalogue.listing(_loaded(request).policy_set, zone)

    @app.get("/v1/policies/{policy_id}", response_model=catalogue.PolicyDetail, tags=["policies"],
             responses=documented(404))  # fmt: skip
    def show_policy(request: Request, policy_id: str, lang: Lang = None) -> Response:
        """One policy: provenance and its definition (`incentives show --format json`)."""
        detail = catalogue.detail(_loaded(request).policy_set, policy_id)
        return _json(json.dumps(detail, ensure_ascii=False), request)

    @app.get("/v1/facts", response_model=list[FactDef], tags=["policies"],
             response_model_exclude_none=True)  # fmt: skip
    def facts(request: Request) -> list[FactDef]:
        """The declared facts, with their labels in Chinese and English (the ids that
        `missing` and `review` name)."""
        return list(_loaded(request).policy_set.facts.values())

    @app.get(
        "/v1/zones", response_model=list[Zone], tags=["policies"], response_model_exclude_none=True
    )
    def zones(request: Request) -> list[Zone]:
        """The zones of this policy set, each with the zone it lies in."""
        return list(_loaded(request).policy_set.zones.values())

    @app.get("/v1/schemas/{kind}", tags=["policies"], responses=documented(404))
    def schema(request: Request, kind: Literal["profile", "policy", "cases", "zones"]) -> Response:
        """Standard JSON Schema (2020-12) of profiles, policy documents, case files or zone files,
        with this set's zones, facts and policy ids enumerated (`incentives schema KIND`)."""
        assert kind in KINDS
        body = json.dumps(schema_of(kind, _loaded(request).known), ensure_ascii=False)
        return Response(body, media_type="application/schema+json")

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        """The process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"])
    def readyz(request: Request) -> dict[str, Any]:
        """A policy set is loaded and answering: its version, size and when it was loaded."""
        loaded = _loaded(request)
        return {"status": "ready", "policy_set_version": loaded.version,
                "policies": len(loaded.policy_set), "loaded_at": loaded.loaded_at.isoformat()}  # fmt: skip


# --- the page --------------------------------------------------------------------------------

_ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
# The page loads nothing from elsewhere; the policy says so to the browser.
_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")  # fmt: skip


def _asset(name: str) -> bytes:
    return resources.files("incentives.service").joinpath("page").joinpath(name).read_bytes()


def _page_routes(app: FastAPI) -> None:
    page = _asset("index.html")
    assets = {name: _asset(name) for name in _ASSETS}

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page, headers={"Content-Security-Policy": _CSP})

    @app.get("/page/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name not in assets:
            raise ServiceProblem(404, "not-found", f"no page asset {name!r}")
        return Response(
            assets[name], media_type=_ASSETS[name], headers={"Cache-Control": "no-cache"}
        )


# --- the OpenAPI description ---------------------------------------------------------------

_DESCRIPTION = """\
Checks enterprise profiles against incentive policies (national tax programmes, development-zone
subsidies) with every verdict explained. Every response carries the `Policy-Set-Version` header
(a content hash of the loaded documents) and `X-Request-ID`; evaluations also `Evaluation-Date`.
Failures are `application/problem+json` (RFC 9457). Amounts are decimal strings in yuan.
The page at `/` is the 政策计算器.
"""


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("incentives")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "0"


def _components(schema: dict[str, Any]) -> dict[str, Any]:
    """A standalone JSON Schema as OpenAPI components: its `$defs` beside it, references
    rewritten to `#/components/schemas/…`."""
    schema = dict(schema)
    schema.pop("$schema", None)
    defs = schema.pop("$defs", {})
    text = json.dumps({"root": schema, **defs}).replace('"#/$defs/', '"#/components/schemas/')
    return dict(json.loads(text))


def _parameter_problems(document: dict[str, Any]) -> None:
    """FastAPI documents invalid parameters as 422 with its own error shape; here they are 400
    problem details (and 422 is kept for an invalid profile)."""
    default = {"$ref": "#/components/schemas/HTTPValidationError"}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            shown = responses.get("422", {}).get("content", {}).get("application/json", {})
            if shown.get("schema") == default:
                del responses["422"]
                responses.setdefault("400", documented(400)[400])
    schemas = document["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        document = get_openapi(
            title=app.title, version=app.version, summary=app.summary,
            description=app.description, routes=app.routes,
        )  # fmt: skip
        components = document.setdefault("components", {}).setdefault("schemas", {})
        profile = _components(profile_schema())
        components["Profile"] = profile.pop("root")
        for name, model in (("ProblemDetails", ProblemDetails), ("ScreenedRow", register.ScreenedRow),
                            ("BadRow", register.BadRow), ("ScreenEnd", register.ScreenEnd)):  # fmt: skip
            generated = _components(model.model_json_schema(mode="serialization"))
            components[name] = generated.pop("root")
            profile.update(generated)
        for name, definition in profile.items():
            if components.setdefault(name, definition) != definition:
                raise RuntimeError(f"two schemas named {name} in the OpenAPI description")
        for definition in components.values():
            standardise(definition)
        _parameter_problems(document)
        app.openapi_schema = document
    return app.openapi_schema

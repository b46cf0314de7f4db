"""One shape for every failure: problem details (RFC 9457, `application/problem+json`).

A profile with invalid fields is 422 with every field listed; malformed JSON or YAML is 400; an
unknown policy 404; a body over the limit 413; an unsupported media type 415; a bug 500 with
the request id and nothing of the traceback (`app`'s middleware; the traceback goes to the
server's log).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..engine import InputError, Problem, ProfileError

MEDIA_TYPE = "application/problem+json"

# Problem types: tag URIs (RFC 4151), which name a kind of problem without being a web address.
TYPE_PREFIX = "tag:incentives,2026:problem/"

_TITLES = {
    "invalid-profile": ("画像中有无效字段", "The profile has invalid fields"),
    "malformed-body": ("请求体无法解析", "The request body cannot be parsed"),
    "invalid-parameter": ("请求参数无效", "A request parameter is invalid"),
    "invalid-register": ("企业名录无法读取", "The register cannot be read"),
    "unknown-policy": ("没有该政策", "No such policy"),
    "body-too-large": ("请求体过大", "The request body is too large"),
    "unsupported-media-type": ("不支持的内容类型", "Unsupported media type"),
    "not-available": ("此服务未安装该功能", "Not available in this installation"),
    "not-found": ("未找到", "Not found"),
    "method-not-allowed": ("不支持该方法", "Method not allowed"),
    "internal-error": ("服务器内部错误", "Internal server error"),
}


class FieldError(BaseModel):
    """One invalid field: where (a dotted path as the CLI names it, a JSON pointer, the line of
    the body) and what is wrong."""

    path: str = Field(description="dotted path, e.g. financials.2025.revenue")
    pointer: str = Field(description="JSON pointer into the request body, e.g. #/employees")
    message: str
    line: int | None = Field(None, description="line of the request body, where known")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, with the invalid fields and the request's identifiers."""

    type: str = Field(description=f"{TYPE_PREFIX}<kind>, or about:blank")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="the request path")
    errors: list[FieldError] = []
    request_id: str | None = None
    policy_set_version: str | None = None


class ServiceProblem(Exception):
    """A failure to answer with problem details."""

    def __init__(
        self, status: int, kind: str, detail: str | None = None,
        errors: Sequence[FieldError] = (),
    ) -> None:  # fmt: skip
        super().__init__(detail or kind)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.errors = list(errors)


def field_error(path: Sequence[str | int], message: str, line: int | None = None) -> FieldError:
    steps = [str(step) for step in path]
    pointer = "#/" + "/".join(s.replace("~", "~0").replace("/", "~1") for s in steps)
    return FieldError(path=".".join(steps), pointer=pointer, message=message, line=line)


def problem_errors(problems: Sequence[Problem]) -> list[FieldError]:
    """The engine's problems as field errors (a problem without a field is the whole body)."""
    return [field_error(p.field.split(".") if p.field else [], p.message, p.line) for p in problems]


def from_input_error(exc: InputError) -> ServiceProblem:
    """A profile the engine refused is 422 with its fields; any other bad input 400."""
    if isinstance(exc, ProfileError):
        return ServiceProblem(422, "invalid-profile", exc.summary, problem_errors(exc.problems))
    return ServiceProblem(400, "invalid-parameter", exc.render())


def language(request: Request) -> str:
    """`?lang=` when given, else the first of zh/en in Accept-Language, else zh."""
    asked = request.query_params.get("lang")
    if asked in ("zh", "en"):
        return asked
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "zh"


def problem_response(request: Request, problem: ServiceProblem) -> JSONResponse:
    zh, en = _TITLES[problem.kind]
    lang = language(request)
    state = request.scope.get("state", {})
    loaded = state.get("policies")
    body = ProblemDetails(
        type=TYPE_PREFIX + problem.kind,
        title=zh if lang == "zh" else en,
        status=problem.status,
        detail=problem.detail,
        instance=request.url.path,
        errors=problem.errors,
        request_id=state.get("request_id"),
        policy_set_version=None if loaded is None else loaded.version,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers={"Content-Language": lang},
    )


_HTTP_KINDS = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large",
               415: "unsupported-media-type"}  # fmt: skip


def install(app: FastAPI) -> None:
    """Every failure of `app` as problem details."""

    @app.exception_handler(ServiceProblem)
    async def _service(request: Request, exc: ServiceProblem) -> JSONResponse:
        return problem_response(request, exc)

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return problem_response(request, from_input_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _parameters(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_parameter_error(e) for e in exc.errors()]
        detail = f"{len(errors)} invalid parameter(s)"
        return problem_response(request, ServiceProblem(400, "invalid-parameter", detail, errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = _HTTP_KINDS.get(
            exc.status_code, "not-found" if exc.status_code < 500 else "internal-error"
        )
        detail = exc.detail if isinstance(exc.detail, str) else None
        response = problem_response(request, ServiceProblem(exc.status_code, kind, detail))
        response.headers.update(exc.headers or {})
        return response


def _parameter_error(error: dict[str, Any]) -> FieldError:
    loc = [str(step) for step in error.get("loc", ())]
    return field_error(loc, str(error.get("msg", "invalid")))


# For `responses=` of the routes: how a failure is documented in the OpenAPI description.
def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    what = {400: "malformed body or invalid parameter", 404: "unknown policy",
            413: "body over the limit", 415: "unsupported media type",
            422: "profile with invalid fields (every one listed)"}  # fmt: skip
    return {
        status: {
            "description": what[status],
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
        }
        for status in statuses
    }

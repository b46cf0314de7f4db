"""Request bodies: read within a size limit, decoded, parsed as JSON or YAML by the engine's own
strict readers, and validated as a profile."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import Request

from ..engine import InputError, Profile, parse_profile
from ..engine.model.jsonio import JsonError, load_json
from ..engine.model.textio import decode
from ..engine.model.yamlio import Location, YamlError, load_yaml
from .problems import ServiceProblem

JSON_TYPES = ("application/json",)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/jsonlines",
               "application/x-jsonlines")  # fmt: skip
CSV_TYPES = ("text/csv",)


def media_type(request: Request) -> tuple[str, str | None]:
    """The body's media type (lower case, no parameters) and its charset, if given."""
    raw = request.headers.get("content-type", "")
    kind, *params = (part.strip() for part in raw.split(";"))
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return kind.lower(), charset


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ServiceProblem:
    return ServiceProblem(413, "body-too-large", f"the body is over the limit of {limit} bytes")


def text_of(body: bytes, charset: str | None, what: str) -> str:
    try:
        return decode(body, what, charset)
    except InputError as exc:  # bytes that are not text in the charset, or an unknown charset
        raise ServiceProblem(400, "malformed-body", exc.render()) from None


def _refuse_aliases(text: str) -> None:
    """YAML aliases (`*name`) let a small body stand for an exponentially large tree; no profile
    needs them. (Remove once the engine's YAML reader refuses them itself.)"""
    if "*" not in text:
        return
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                line = event.start_mark.line + 1 if event.start_mark else None
                raise ServiceProblem(
                    400, "malformed-body",
                    f"body:{line}: YAML aliases (*name) are not accepted; write the value out",
                )  # fmt: skip
    except yaml.YAMLError:
        return  # the reader below words the syntax error


def parse_document(body: bytes, kind: str, charset: str | None) -> tuple[Any, dict[Location, int]]:
    """JSON (`application/json`, or a body that starts with `{`) or YAML; 400 if malformed,
    415 for another media type."""
    if kind and kind not in JSON_TYPES + YAML_TYPES:
        raise ServiceProblem(
            415, "unsupported-media-type",
            f"{kind!r}: send the profile as application/json or application/yaml",
        )  # fmt: skip
    text = text_of(body, charset, "body")
    if not text.strip():
        raise ServiceProblem(400, "malformed-body", "the body is empty: send a profile")
    if kind in JSON_TYPES or (not kind and text.lstrip().startswith("{")):
        try:
            return load_json(text), {}
        except JsonError as exc:
            where = f"body:{exc.line}: " if exc.line else ""
            raise ServiceProblem(400, "malformed-body", f"{where}{exc}") from None
    _refuse_aliases(text)
    try:
        return load_yaml(text)
    except YamlError as exc:
        where = f"body:{exc.line}: " if exc.line else ""
        raise ServiceProblem(400, "malformed-body", f"{where}{exc}") from None


async def read_profile(request: Request, limit: int) -> Profile:
    """The profile in the body, validated (ProfileError lists every invalid field)."""
    kind, charset = media_type(request)
    data, lines = parse_document(await read_body(request, limit), kind, charset)
    if not isinstance(data, dict):
        raise ServiceProblem(
            400, "malformed-body", f"a profile is a mapping of fields, got {type(data).__name__}"
        )
    return parse_profile(data, file="body", lines=lines)

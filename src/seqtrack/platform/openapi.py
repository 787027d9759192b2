"""The OpenAPI document tells the truth about errors: they are problem documents.

FastAPI describes validation failures as ``application/json`` with its own
shape; SeqTrack answers every error as ``application/problem+json``. This
rewrites the generated document once so clients (and contract tests) see the
real error format on every operation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from seqtrack.platform.problems import PROBLEM_CONTENT_TYPE

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An RFC 9457 problem document.",
    "required": ["type", "title", "status", "detail", "error_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": ["string", "null"]},
        "code": {"type": "string"},
        "error_id": {"type": "string"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": True},
            "description": "One entry per bad field (and row, for files).",
        },
    },
    "additionalProperties": True,
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_RESPONSE = {
    "description": "The request was refused or failed; the body says why.",
    "content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_REF}},
}


def install_problem_openapi(app: FastAPI) -> None:
    # FastAPI's own builder, so the document follows every setting the app is given.
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_problems(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to customise the document


def describe_problems(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "Invalid input; each bad field is named.", **_problem_content()}
            responses["default"] = PROBLEM_RESPONSE
    return document


def _problem_content() -> dict[str, Any]:
    return {"content": {PROBLEM_CONTENT_TYPE: {"schema": PROBLEM_REF}}}

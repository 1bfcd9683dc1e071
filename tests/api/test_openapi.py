"""The OpenAPI document is complete: every operation declares its success body and its error bodies."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

ERROR_REF = "#/components/schemas/ErrorResponse"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op) for path, item in document["paths"].items() for method, op in item.items()
    ]


def test_every_operation_documents_success_and_errors(app: FastAPI) -> None:
    document = app.openapi()
    problems = []
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        successes = [code for code in responses if code.startswith("2")]
        if not successes:
            problems.append(f"{method} {path}: no success response")
        for code in successes:
            content = responses[code].get("content", {})
            if not content or not any(media.get("schema") or media == {} for media in content.values()):
                problems.append(f"{method} {path}: success {code} has no body schema")
        if path.startswith("/lifecycle/api/v1") and path != "/lifecycle/api/v1/info":
            errors = [code for code in responses if code.startswith("4")]
            if not errors:
                problems.append(f"{method} {path}: no error responses")
            for code in errors:
                schema = responses[code]["content"]["application/json"]["schema"]
                ref = schema.get("$ref")
                if ref != ERROR_REF:
                    problems.append(f"{method} {path}: {code} is not an ErrorResponse")
    assert not problems, "\n".join(problems)
    assert "HTTPValidationError" not in document["components"]["schemas"]  # 422 bodies are ErrorResponse too


def test_errors_match_the_documented_shape(app: FastAPI) -> None:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        for response in (
            client.get("/lifecycle/api/v1/job"),
            client.get("/lifecycle/api/v1/nowhere"),
            client.post("/lifecycle/api/v1/users/login", content=b"{"),
        ):
            assert response.headers["content-type"] == "application/json"
            assert set(response.json()) == {"error", "type"}

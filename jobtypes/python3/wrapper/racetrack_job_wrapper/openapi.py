"""OpenAPI description of a job and the Swagger UI page that shows it.

The page loads Swagger UI from the job itself (`<base>/docs/static/...`), never from a CDN: the job
image holds the files of PyPI's swagger-ui-bundle in `JOB_SWAGGER_UI_DIR` (see
jobtypes/swagger_ui/), and `SwaggerAssets` serves them from memory.
"""

from __future__ import annotations

import html
import importlib.util
import inspect
import json
import typing
from pathlib import Path
from typing import Any

__all__ = [
    "describe_parameters",
    "openapi_spec",
    "swagger_html",
    "json_schema_of",
    "SwaggerAssets",
    "SWAGGER_ASSET_PATH",
    "SWAGGER_UI_FILES",
]

# Where the page's scripts and styles are served, under the job's base path, and relative to the
# page (`<base>/docs`) so that it works at the root, under /pub/job/<name>/<version> and behind
# any further prefix.
SWAGGER_ASSET_PATH = "/docs/static/"
SWAGGER_UI_FILES: dict[str, bytes] = {
    "swagger-ui-bundle.js": b"application/javascript; charset=utf-8",
    "swagger-ui.css": b"text/css; charset=utf-8",
    "favicon-32x32.png": b"image/png",
    "favicon-16x16.png": b"image/png",
}
# The URLs carry Swagger UI's version (?v=), so browsers may keep the files for a year.
ASSET_CACHE_CONTROL = b"public, max-age=31536000, immutable"


class SwaggerAssets:
    """Swagger UI's files from a folder, read once on first use and kept in memory.

    The folder is `JOB_SWAGGER_UI_DIR` (set by the job images); without it, an installed
    swagger_ui_bundle package is used (running the wrapper outside an image). When neither exists
    the page still renders and the files answer 404 saying why.
    """

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = Path(folder) if folder else _installed_bundle_dir()
        self.version = _bundle_version(self.folder)
        self._files: dict[str, bytes] | None = None

    def file(self, name: str) -> bytes | None:
        if self._files is None:
            files: dict[str, bytes] = {}
            if self.folder is not None:
                for file_name in SWAGGER_UI_FILES:
                    try:
                        files[file_name] = (self.folder / file_name).read_bytes()
                    except OSError:
                        pass
            self._files = files
        return self._files.get(name)


def _installed_bundle_dir() -> Path | None:
    try:
        spec = importlib.util.find_spec("swagger_ui_bundle")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    found = sorted(Path(spec.origin).parent.glob("vendor/swagger-ui-*/swagger-ui-bundle.js"))
    return found[-1].parent if found else None


def _bundle_version(folder: Path | None) -> str:
    if folder is None:
        return "none"
    try:
        return (folder / "VERSION").read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        name = folder.name
        return name[len("swagger-ui-") :] if name.startswith("swagger-ui-") else "unknown"


_SIMPLE_TYPES: dict[Any, dict[str, Any]] = {
    int: {"type": "integer"},
    float: {"type": "number"},
    str: {"type": "string"},
    bool: {"type": "boolean"},
    dict: {"type": "object"},
    list: {"type": "array", "items": {}},
    type(None): {"nullable": True},
}


def json_schema_of(annotation: Any) -> dict[str, Any]:
    """A JSON schema for a type annotation, good enough for documentation (unknown types: any)."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return {}
    if annotation in _SIMPLE_TYPES:
        return dict(_SIMPLE_TYPES[annotation])
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return json_schema_of(args[0])
    if origin in (list, tuple, set, frozenset):
        return {"type": "array", "items": json_schema_of(args[0]) if args else {}}
    if origin is dict:
        return {"type": "object"}
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        options = [json_schema_of(arg) for arg in args if arg is not type(None)]
        schema = options[0] if len(options) == 1 else {"anyOf": options}
        if type(None) in args:
            schema = {**schema, "nullable": True}
        return schema
    return {}


def _type_name(annotation: Any) -> str | None:
    if annotation is inspect.Parameter.empty:
        return None
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def describe_parameters(func: Any) -> list[dict[str, Any]]:
    """Name, type, default and whether required, for each named parameter of `func`."""
    result = []
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        item: dict[str, Any] = {"name": param.name, "type": _type_name(param.annotation)}
        if param.default is param.empty:
            item["required"] = True
        else:
            item["required"] = False
            item["default"] = param.default if _json_safe(param.default) else repr(param.default)
        result.append(item)
    return result


def _json_safe(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def _body_schema(func: Any, skip: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required: list[str] = []
    hints: dict[str, Any]
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # noqa: BLE001 - unresolvable forward references: document without types
        hints = {}
    for param in inspect.signature(func).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name in skip:
            continue
        field = json_schema_of(hints.get(param.name, param.annotation))
        if param.default is not param.empty and _json_safe(param.default):
            field["default"] = param.default
        properties[param.name] = field
        if param.default is param.empty:
            required.append(param.name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _summary(func: Any) -> str:
    doc = inspect.getdoc(func) or ""
    return doc.strip()


def _json_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {}}}}


def openapi_spec(
    *,
    job_name: str,
    job_version: str,
    base_path: str,
    perform: Any | None,
    examples: dict[str, Any],
    aux_endpoints: list[tuple[str, str, Any]],
    static_paths: list[str],
    has_webview: bool,
) -> dict[str, Any]:
    """The OpenAPI 3 document of a job served under `base_path` (e.g. `/pub/job/adder/1.0.0`)."""
    errors = {
        "400": {"description": "Wrong input: the message names the argument"},
        "429": {"description": "Too many requests are waiting (max_concurrency_queue)"},
        "500": {"description": "The job raised an exception: the message says which"},
    }
    paths: dict[str, Any] = {}
    if perform is not None:
        body: dict[str, Any] = {"schema": _body_schema(perform)}
        example = examples.get("/perform")
        if example is not None:
            body["example"] = example
        paths["/api/v1/perform"] = {
            "post": {
                "summary": "Call the job's perform method",
                "description": _summary(perform),
                "operationId": "perform",
                "tags": ["job"],
                "requestBody": {"required": True, "content": {"application/json": body}},
                "responses": {"200": _json_response("The result of perform"), **errors},
            }
        }
    for path, method, handler in aux_endpoints:
        openapi_path = "/api/v1" + path
        params = [{"name": name, "in": "path", "required": True, "schema": {}} for name in _path_params(path)]
        operation: dict[str, Any] = {
            "summary": f"Auxiliary endpoint {path}",
            "description": _summary(handler),
            "tags": ["auxiliary endpoints"],
            "responses": {"200": _json_response("The handler's result"), **errors},
        }
        if method == "POST":
            body = {"schema": _body_schema(handler, set(_path_params(path)))}
            if path in examples:
                body["example"] = examples[path]
            operation["requestBody"] = {"content": {"application/json": body}}
        else:
            for param in inspect.signature(handler).parameters.values():
                if param.name not in _path_params(path) and param.kind not in (
                    param.VAR_POSITIONAL,
                    param.VAR_KEYWORD,
                ):
                    params.append(
                        {
                            "name": param.name,
                            "in": "query",
                            "required": param.default is param.empty,
                            "schema": json_schema_of(param.annotation),
                        }
                    )
        if params:
            operation["parameters"] = params
        paths.setdefault(openapi_path, {})[method.lower()] = operation
    for path in static_paths:
        paths["/api/v1" + path] = {
            "get": {
                "summary": f"Static file {path}",
                "tags": ["static"],
                "responses": {"200": {"description": "File"}},
            }
        }
    if has_webview:
        paths["/api/v1/webview/"] = {
            "get": {
                "summary": "The job's web view",
                "tags": ["webview"],
                "responses": {"200": {"description": "Page"}},
            }
        }
    if perform is not None:
        paths["/api/v1/parameters"] = {
            "get": {
                "summary": "Parameters of perform: name, type, default",
                "tags": ["job"],
                "responses": {"200": _json_response("Parameters")},
            }
        }
    for path, text in (
        ("/health", "Health of the job, with its version and deployment time"),
        ("/live", "Whether the job is alive (500 with the error when its initialisation failed)"),
        ("/ready", "Whether the job finished its initialisation"),
    ):
        paths[path] = {
            "get": {"summary": text, "tags": ["health"], "responses": {"200": _json_response("Status")}}
        }
    paths["/metrics"] = {
        "get": {
            "summary": "Prometheus metrics",
            "tags": ["health"],
            "responses": {"200": {"description": "Text"}},
        }
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": f"Job {job_name}", "version": job_version},
        "servers": [{"url": base_path or "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "RacetrackAuth": {"type": "apiKey", "in": "header", "name": "X-Racetrack-Auth"}
            }
        },
        "security": [{"RacetrackAuth": []}],
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def swagger_html(*, title: str, openapi_url: str, version: str) -> str:
    """A Swagger UI page reading the spec at `openapi_url`; its scripts and styles come from the job.

    The page is served at `<base>/docs`, so `docs/static/...` resolves to `<base>/docs/static/...`.
    Nothing is fetched from another host: the online validator badge is switched off.
    """
    assets = SWAGGER_ASSET_PATH.lstrip("/")
    query = "?v=" + html.escape(version, quote=True)
    spec_url = json.dumps(openapi_url).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} - Swagger UI</title>
<link rel="stylesheet" href="{assets}swagger-ui.css{query}">
<link rel="icon" type="image/png" href="{assets}favicon-32x32.png{query}" sizes="32x32">
<link rel="icon" type="image/png" href="{assets}favicon-16x16.png{query}" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{assets}swagger-ui-bundle.js{query}"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: {spec_url},
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  tryItOutEnabled: true,
  validatorUrl: null,
}});
</script>
</body>
</html>
"""

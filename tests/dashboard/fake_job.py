"""Stand-ins for a deployed job (the adder) and for pub, for the browser test.

The job serves, like every Racetrack job, under `/pub/job/{name}/{version}/` on its own address: a
Swagger page whose markup mimics Swagger UI closely enough that the browser test drives it the same
way (open the operation, "Try it out", "Execute", read the response), and `/api/v1/perform`.
The fake pub does what the real one (`api.pub`) does for these calls: it takes the caller's token from
`X-Racetrack-Auth` (header or the dashboard's cookie), asks the lifecycle
`GET /auth/can-call-job/{name}/{version}/{path}` and forwards the call to the job's `internal_name`.
"""

from __future__ import annotations

import json
from urllib.parse import unquote

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{name} {version} - Swagger UI</title></head>
<body>
<div class="swagger-ui">
  <h2 class="title">{name} <small>{version}</small></h2>
  <div class="opblock opblock-post" id="perform">
    <button class="opblock-summary" type="button" aria-expanded="false">
      <span class="opblock-summary-method">POST</span>
      <span class="opblock-summary-path">/api/v1/perform</span>
    </button>
    <div class="opblock-body" hidden>
      <button class="try-out__btn" type="button">Try it out</button>
      <label for="body">Request body</label>
      <textarea id="body" class="body-param__text" readonly>{{"numbers": [40, 2]}}</textarea>
      <button class="execute" type="button" disabled>Execute</button>
      <div class="responses-wrapper">
        <div class="response-col_status"></div>
        <pre class="microlight response-body"></pre>
      </div>
    </div>
  </div>
</div>
<script>
  var block = document.getElementById("perform");
  var body = block.querySelector(".opblock-body");
  block.querySelector(".opblock-summary").addEventListener("click", function () {{
    body.hidden = !body.hidden;
  }});
  block.querySelector(".try-out__btn").addEventListener("click", function () {{
    block.querySelector("#body").readOnly = false;
    block.querySelector(".execute").disabled = false;
  }});
  block.querySelector(".execute").addEventListener("click", function () {{
    fetch("api/v1/perform", {{
      method: "POST", credentials: "same-origin",
      headers: {{"Content-Type": "application/json", "accept": "application/json"}},
      body: block.querySelector("#body").value
    }}).then(function (r) {{
      block.querySelector(".response-col_status").textContent = r.status;
      return r.text();
    }}).then(function (t) {{ block.querySelector(".response-body").textContent = t; }});
  }});
</script>
</body></html>
"""


def create_fake_job() -> Starlette:
    """The adder job: its Swagger page and `perform(numbers) -> sum`, under `/pub/job/{name}/{version}/`."""

    async def docs(request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        return HTMLResponse(SWAGGER_PAGE.format(name=name, version=version))

    async def perform(request: Request) -> Response:
        payload = json.loads(await request.body() or b"{}")
        return JSONResponse(sum(payload.get("numbers", [])))

    return Starlette(
        routes=[
            Route("/pub/job/{name}/{version}/docs", docs, methods=["GET"]),
            Route("/pub/job/{name}/{version}/api/v1/perform", perform, methods=["POST"]),
        ]
    )


def create_fake_pub(lifecycle_url: str, internal_token: str) -> Starlette:
    """Pub at `/pub/job/{name}/{version}/...`: one permission question per call, then the job."""

    async def job(request: Request) -> Response:
        name, version = request.path_params["name"], request.path_params["version"]
        path = request.path_params.get("path", "")
        token = request.headers.get("X-Racetrack-Auth")
        if token is None and request.cookies.get("X-Racetrack-Auth"):
            token = unquote(request.cookies["X-Racetrack-Auth"])
        headers = {"X-Racetrack-Internal-Auth": internal_token}
        if token:
            headers["X-Racetrack-Auth"] = token
        async with httpx.AsyncClient() as client:
            answer = await client.get(
                f"{lifecycle_url}/api/v1/auth/can-call-job/{name}/{version}/{path}", headers=headers
            )
            if answer.status_code != 200:
                error = answer.json()
                message = f"Proxy request error: {error.get('type', 'Error')}: {error.get('error', '')}"
                return JSONResponse({"error": message, "requestId": "fake"}, status_code=answer.status_code)
            target = answer.json()["job"]
            upstream = f"http://{target['internal_name']}/pub/job/{name}/{target['version']}/{path}"
            reply = await client.request(
                request.method,
                upstream,
                content=await request.body(),
                headers={"content-type": request.headers.get("content-type", "application/json")},
            )
        return Response(
            reply.content, status_code=reply.status_code, media_type=reply.headers.get("content-type")
        )

    return Starlette(routes=[Route("/pub/job/{name}/{version}/{path:path}", job, methods=["GET", "POST"])])

"""A plain HTTP server: POST /perform with {"numbers": [...]} answers their sum."""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        if self.path != "/perform":
            self._answer(404, {"error": f"no endpoint {self.path}"})
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        numbers = body.get("numbers")
        if not isinstance(numbers, list):
            self._answer(400, {"error": "numbers must be a list"})
            return
        self._answer(200, sum(numbers))

    def _answer(self, status: int, value: object) -> None:
        payload = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", 7004), Handler).serve_forever()

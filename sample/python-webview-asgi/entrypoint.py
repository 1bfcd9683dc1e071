from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse


class GreetingPage:
    def perform(self, name: str = "world") -> str:
        return f"Hello, {name}!"

    def webview_app(self, base_url: str) -> FastAPI:
        """An ASGI app (FastAPI). It is mounted at the webview's prefix: its routes are relative
        ('/', '/hello/{name}'), and url_for gives public paths."""
        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

        @app.get("/", response_class=HTMLResponse)
        def index(request: Request) -> str:
            link = request.url_for("hello", name="Ada").path
            return (
                "<!DOCTYPE html><html><head><title>ASGI webview</title>"
                f'<link href="{base_url}/static/page.css" rel="stylesheet"></head>'
                f'<body><h1>{self.perform()}</h1><a id="hello" href="{link}">greet Ada</a></body></html>'
            )

        @app.get("/hello/{name}", name="hello")
        def hello(name: str) -> dict:
            return {"greeting": self.perform(name)}

        @app.post("/greet")
        def greet(name: str = Form(...)) -> dict:
            # A plain HTML form post: FastAPI parses it with python-multipart, which the job type provides.
            return {"greeting": self.perform(name)}

        return app

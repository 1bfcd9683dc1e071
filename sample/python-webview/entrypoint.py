from flask import Flask, render_template, request


class WebviewJob:
    def perform(self, name: str = "world") -> str:
        return f"Hello, {name}!"

    def webview_app(self, base_url: str) -> Flask:
        """A Flask app served at /api/v1/webview/; base_url is its public prefix, for links."""
        app = Flask(__name__, template_folder="templates")

        @app.route("/")
        def index():
            return render_template("index.html", base_url=base_url, greeting=self.perform())

        @app.route("/greet", methods=["POST"])
        def greet():
            return {"greeting": self.perform(request.get_json()["name"])}

        return app

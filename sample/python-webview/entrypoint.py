from flask import Flask, jsonify, render_template, request, url_for


class WebviewJob:
    """A job that is only a web page: no perform method (the shape of upstream's python-ui-flask)."""

    def webview_app(self, base_url: str):
        """A Flask app. Its routes include base_url, the page's public prefix
        (/pub/job/webview/<version>/api/v1/webview): the app sees full request paths."""
        app = Flask(__name__, template_folder="templates", static_folder=None)

        @app.route(base_url + "/")
        def index():
            # url_for gives public paths too: the app is mounted at the root of those paths.
            return render_template("index.html", base_url=base_url, postme_url=url_for("postme"))

        @app.route(base_url + "/postme", methods=["POST"])
        def postme():
            return jsonify({"hello": request.json})

        @app.errorhandler(404)
        def page_not_found(error):
            return f"requested path was not found: {request.path}", 404

        return app.wsgi_app

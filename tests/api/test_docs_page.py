"""The lifecycle's Swagger page works without the internet: its assets come from the lifecycle itself."""

from __future__ import annotations

import re

from tests.api.conftest import Api


def test_swagger_page_uses_only_local_assets(api: Api) -> None:
    page = api.get("/lifecycle/docs")
    assert page.status_code == 200
    assert "https://" not in page.text and "http://" not in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    for asset in assets:
        fetched = api.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > (100 if asset.endswith(".png") else 10_000), asset

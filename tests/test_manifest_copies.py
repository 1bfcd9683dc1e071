"""The client's light copies (manifest field names, the auth header) stay in step with the server's."""

from __future__ import annotations

from client import manifest as client_manifest
from jobtypes.manifest import Manifest
from jobtypes.manifest.parse import DEPRECATED_EXTRA, DEPRECATED_JOBTYPE


def test_client_knows_exactly_the_servers_fields() -> None:
    server = set(Manifest.model_fields) | {DEPRECATED_JOBTYPE, *DEPRECATED_EXTRA}
    assert client_manifest._TOP_LEVEL_FIELDS == server


def test_client_maps_deprecated_fields_as_the_server_does() -> None:
    assert client_manifest._DEPRECATED == {
        DEPRECATED_JOBTYPE: "jobtype",
        **{name: "jobtype_extra" for name in DEPRECATED_EXTRA},
    }


def test_client_sends_the_servers_auth_header() -> None:
    from client.http import AUTH_HEADER
    from core.protocol import AUTH_HEADER as SERVER_AUTH_HEADER

    assert AUTH_HEADER == SERVER_AUTH_HEADER

"""Discovery: OIDC's document merged with RFC 8414's, including its path-inserted address.

The servers here publish only some documents, or a supplementary one for another issuer: layouts
real providers have, which the demo server (one complete document) does not show.
"""

from __future__ import annotations

import json

import pytest

from nb_oauth.errors import DiscoveryError
from nb_oauth.oidc import discovery

from .support.servers import LocalServer, Reply, Seen


def metadata_server(documents: dict[str, dict[str, str]]) -> LocalServer:
    """Serves ``documents`` by path; ``{base}`` in a value is this server's URL."""
    holder: dict[str, str] = {}

    def answer(seen: Seen, raw: bytes) -> Reply:
        doc = documents.get(seen.path)
        if doc is None:
            return Reply(404, b'{"error": "not_found"}')
        return Reply(200, json.dumps({k: v.format(base=holder["base"]) for k, v in doc.items()}))

    server = LocalServer(answer)
    holder["base"] = server.url
    return server


OIDC = {"issuer": "{base}/tenant", "authorization_endpoint": "{base}/tenant/authorize",
        "token_endpoint": "{base}/tenant/token", "jwks_uri": "{base}/tenant/jwks"}
RFC8414 = {"issuer": "{base}/tenant", "token_endpoint": "{base}/tenant/token-8414",
           "revocation_endpoint": "{base}/tenant/revoke", "introspection_endpoint": "{base}/tenant/introspect",
           "device_authorization_endpoint": "{base}/tenant/device"}


def test_urls_tried_for_an_issuer_with_a_path() -> None:
    assert discovery.metadata_urls("https://idp.example/tenant/") == [
        "https://idp.example/tenant/.well-known/openid-configuration",
        "https://idp.example/.well-known/oauth-authorization-server/tenant",
        "https://idp.example/tenant/.well-known/oauth-authorization-server",
    ]
    assert discovery.metadata_urls("https://idp.example") == [
        "https://idp.example/.well-known/openid-configuration",
        "https://idp.example/.well-known/oauth-authorization-server",
    ]


def test_oidc_document_is_completed_from_the_path_inserted_rfc8414_one() -> None:
    with metadata_server({"/tenant/.well-known/openid-configuration": OIDC,
                          "/.well-known/oauth-authorization-server/tenant": RFC8414}) as srv:
        doc = discovery.metadata(srv.url + "/tenant", allow_http=True)
    assert doc["revocation_endpoint"] == srv.url + "/tenant/revoke"
    assert doc["device_authorization_endpoint"] == srv.url + "/tenant/device"
    assert doc["token_endpoint"] == srv.url + "/tenant/token"  # the OIDC document wins where both speak
    assert doc["jwks_uri"] == srv.url + "/tenant/jwks"


def test_the_appended_rfc8414_form_is_the_last_resort() -> None:
    with metadata_server({"/tenant/.well-known/oauth-authorization-server": RFC8414}) as srv:
        doc = discovery.metadata(srv.url + "/tenant", allow_http=True)
        paths = [s.path for s in srv.seen]
    assert doc["revocation_endpoint"] == srv.url + "/tenant/revoke"
    assert paths == ["/tenant/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/tenant",
                     "/tenant/.well-known/oauth-authorization-server"]


def test_a_complete_oidc_document_needs_no_second_request() -> None:
    complete = {**OIDC, **{k: v for k, v in RFC8414.items() if k != "token_endpoint"},
                "userinfo_endpoint": "{base}/tenant/userinfo"}
    with metadata_server({"/tenant/.well-known/openid-configuration": complete}) as srv:
        discovery.metadata(srv.url + "/tenant", allow_http=True)
        assert len(srv.seen) == 1


def test_a_supplementary_document_for_another_issuer_is_not_merged() -> None:
    other = {**RFC8414, "issuer": "{base}/someone-else"}
    with metadata_server({"/tenant/.well-known/openid-configuration": OIDC,
                          "/.well-known/oauth-authorization-server/tenant": other}) as srv:
        doc = discovery.metadata(srv.url + "/tenant", allow_http=True)
    assert "revocation_endpoint" not in doc


def test_the_only_document_declaring_another_issuer_is_refused() -> None:
    with metadata_server({"/.well-known/oauth-authorization-server/tenant": {**RFC8414, "issuer": "{base}/x"}}) as srv, \
            pytest.raises(DiscoveryError, match="declares issuer"):
        discovery.metadata(srv.url + "/tenant", allow_http=True)


def test_no_document_at_all_names_every_address_tried() -> None:
    with metadata_server({}) as srv, pytest.raises(DiscoveryError) as err:
        discovery.metadata(srv.url + "/tenant", allow_http=True)
    message = str(err.value)
    assert message.count("HTTP 404") == 3
    for url in discovery.metadata_urls(srv.url + "/tenant"):
        assert url in message

"""DPoP (RFC 9449) end to end: oidc-provider issues DPoP-bound tokens (nonces required at its token endpoint),
a resource server verifies every proof and the cnf.jkt binding through introspection (and requires its own
nonces); requests, httpx sync and async, refresh, sharing and the faults."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import requests

import nb_oauth
from nb_oauth.dpop import _nonce

from .support.dpop_resource_server import DPoPResourceServer


@pytest.fixture(autouse=True)
def no_remembered_nonces():
    _nonce.clear()
    yield
    _nonce.clear()


def dpop_cc(provider, name: str = "bound", **kw) -> nb_oauth.Token:  # type: ignore[no-untyped-def]
    cfg = nb_oauth.OAuth2Config(token_name=name, grant_type="client_credentials", issuer=provider.issuer,
                                client_id="pkjwt", client_authentication="private_key_jwt",
                                client_assertion_key=provider.keys.jwk_text("ec"), scope="api", dpop=True, **kw)
    return nb_oauth.get_new_access_token(cfg)


def test_token_is_bound_and_nonce_retried_at_the_authorization_server(oidc_provider) -> None:
    token = dpop_cc(oidc_provider)
    assert token.token_type == "DPoP"
    titles = [s.title for s in token.trace.steps]
    assert titles.count("DPoP proof for the token request (client credentials)") == 2
    assert any(t.startswith("Server asks for a DPoP nonce") for t in titles)
    proof = next(s for s in token.trace.steps if s.title.startswith("DPoP proof") and
                 dict(s.params).get("nonce"))
    shown = dict(proof.params)
    assert shown["typ"] == "dpop+jwt" and shown["htm"] == "POST"
    assert shown["htu"] == oidc_provider.issuer + "/token"
    assert "d" not in shown["jwk"]  # the public key only
    assert shown["jwk"]["x"]


def test_requests_session_with_rs_nonce_and_binding(oidc_provider, dpop_rs) -> None:
    token = dpop_cc(oidc_provider)
    r = nb_oauth.session("bound").get(dpop_rs.url + "/whoami?x=1#frag")
    assert r.status_code == 200, r.text
    assert r.json()["scheme"] == "DPoP" and r.json()["jkt"] == token.token_set.dpop_key.jkt
    assert r.request.headers["Authorization"].startswith("DPoP ")
    assert dpop_rs.stats.nonce_challenges == 1  # the first request learnt the nonce, with one retry
    assert nb_oauth.session("bound").post(dpop_rs.url + "/items", data="x").status_code == 200
    assert dpop_rs.stats.nonce_challenges == 1


def test_httpx_sync_and_async(oidc_provider, dpop_rs) -> None:
    dpop_cc(oidc_provider)
    with httpx.Client(auth=nb_oauth.auth("bound")) as client:
        assert client.get(dpop_rs.url + "/whoami").json()["scheme"] == "DPoP"
        assert client.delete(dpop_rs.url + "/items/1").status_code == 200

    async def go() -> list[int]:
        async with httpx.AsyncClient(auth=nb_oauth.auth("bound")) as client:
            return [(await client.get(dpop_rs.url + f"/items/{i}")).status_code for i in range(3)]

    assert asyncio.run(go()) == [200, 200, 200]


def test_stolen_token_and_replayed_proof_are_refused(oidc_provider, dpop_rs) -> None:
    token = dpop_cc(oidc_provider)
    ok = nb_oauth.session("bound").get(dpop_rs.url + "/whoami")
    assert ok.status_code == 200
    stolen = token.access_token
    assert requests.get(dpop_rs.url + "/whoami", headers={"Authorization": f"Bearer {stolen}"}).status_code == 401
    assert requests.get(dpop_rs.url + "/whoami", headers={"Authorization": f"DPoP {stolen}"}).status_code == 401
    replay = requests.get(dpop_rs.url + "/whoami", headers=dict(ok.request.headers))
    assert replay.status_code == 401 and replay.json()["why"] == "replayed jti"
    assert "DPoP-bound token sent as Bearer" in dpop_rs.stats.refused


def test_refresh_keeps_the_key_and_sends_proofs(oidc_provider, provider_login, dpop_rs) -> None:
    cfg = nb_oauth.OAuth2Config(token_name="web", grant_type="authorization_code_with_pkce", issuer=oidc_provider.issuer,
                                client_id="public", scope="openid", dpop=True, dpop_alg="PS256")
    token = nb_oauth.get_new_access_token(cfg)
    jkt = token.token_set.dpop_key.jkt
    first = token.access_token
    nb_oauth.tokens.refresh("web")
    assert token.access_token != first and token.token_type == "DPoP"
    assert token.token_set.dpop_key.jkt == jkt
    assert any(s.title == "DPoP proof for the refresh request" for s in token.trace.steps)
    r = nb_oauth.session("web").get(dpop_rs.url + "/whoami")
    assert r.status_code == 200, r.text
    assert r.json()["sub"] == "alice" and r.json()["jkt"] == jkt


def test_nonce_demanded_forever_is_one_retry_then_an_answer(oidc_provider, capsys) -> None:
    rs = DPoPResourceServer(oidc_provider.issuer + "/token/introspection", "rs", oidc_provider.secret("rs"),
                            require_nonce=True, nonce_forever=True).start()
    try:
        token = dpop_cc(oidc_provider)
        kept = token.access_token
        capsys.readouterr()
        session = nb_oauth.session("bound")
        r = session.get(rs.url + "/whoami")
        assert r.status_code == 401 and rs.stats.requests == 2
        assert session.get(rs.url + "/whoami").status_code == 401 and rs.stats.requests == 4
        assert capsys.readouterr().err.count("asked for a new DPoP nonce again") == 1  # said once, not per call
        with httpx.Client(auth=nb_oauth.auth("bound")) as client:
            assert client.get(rs.url + "/whoami").status_code == 401
        assert rs.stats.requests == 6
        assert "asked for a new DPoP nonce again" in capsys.readouterr().err
        assert nb_oauth.tokens["bound"].access_token == kept
    finally:
        rs.stop()


def test_bearer_answer_is_said_once_and_used_as_bearer(demo, capsys) -> None:
    """The demo server (Authlib) has no DPoP: it answers token_type=Bearer."""
    from nb_oauth.demo.constants import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET

    cfg = nb_oauth.OAuth2Config(token_name="plain", grant_type="client_credentials", access_token_url=demo.url + "/token",
                                client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                                scope="items:read", dpop=True)
    token = nb_oauth.get_new_access_token(cfg)
    assert token.token_type.lower() == "bearer" and token.token_set.dpop_key is None
    nb_oauth.get_new_access_token(cfg.copy())
    err = capsys.readouterr().err
    assert err.count("token_type=Bearer") == 1
    r = nb_oauth.session("plain").get(demo.url + "/api/user")
    assert r.request.headers["Authorization"].startswith("Bearer ") and "DPoP" not in r.request.headers


def test_shared_token_carries_its_key_encrypted(oidc_provider, dpop_rs, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NB_OAUTH_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("NB_OAUTH_SHARE_BACKEND", "file")
    token = dpop_cc(oidc_provider, name="shared", share=True)
    private = token.token_set.dpop_key.to_private_jwk()["d"]
    for path in (tmp_path / "cfg").rglob("*"):
        if path.is_file():
            assert private.encode() not in path.read_bytes()
    cfg = nb_oauth.tokens.config("shared")
    nb_oauth.tokens.clear()  # another kernel: nothing but the shared store
    again = nb_oauth.tokens.load_shared(cfg)
    assert again is not None and again.token_set.dpop_key.jkt == token.token_set.dpop_key.jkt
    assert nb_oauth.session("shared").get(dpop_rs.url + "/whoami").status_code == 200


def test_dpop_with_url_placement_is_a_config_error() -> None:
    with pytest.raises(nb_oauth.ConfigError, match="Authorization header"):
        nb_oauth.OAuth2Config(dpop=True, add_token_to="url")


def test_dpop_alg_not_listed_by_the_provider(oidc_provider) -> None:
    from nb_oauth.oidc import discovery

    doc = discovery.metadata(oidc_provider.issuer)
    assert "RS256" in doc["dpop_signing_alg_values_supported"]
    doc["dpop_signing_alg_values_supported"] = ["ES256"]  # the cached document, as a stricter provider says
    with pytest.raises(nb_oauth.ConfigError, match="dpop_signing_alg_values_supported"):
        dpop_cc(oidc_provider, dpop_alg="RS256")


@pytest.mark.parametrize("alg", ["PS256", "EdDSA"])
def test_trace_decodes_every_proof_kind(alg) -> None:
    from nb_oauth.dpop import DPoPKey, describe_proof

    key = DPoPKey.generate(alg)
    decoded = describe_proof(key.proof("GET", "https://api.example/a?b=c#d", access_token="tok", nonce="n1"))
    assert decoded["header"]["alg"] == alg and decoded["header"]["typ"] == "dpop+jwt"
    assert decoded["claims"]["htu"] == "https://api.example/a" and decoded["claims"]["nonce"] == "n1"
    assert decoded["claims"]["ath"] and "d" not in decoded["header"]["jwk"]
    assert key.to_private_jwk()["d"] not in repr(key) and key.jkt[:8] in repr(key)
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(key)


def test_trace_diagram_explains_the_proofs_and_hides_them(oidc_provider) -> None:
    token = dpop_cc(oidc_provider)
    page = token.trace._repr_html_()
    assert "dpop+jwt" in page and "the URL this proof is for" in page and "Server asks for a DPoP nonce" in page
    proofs = [s.headers.get("DPoP") for s in token.trace.steps if s.headers.get("DPoP")]
    assert proofs and all("…(" in p for p in proofs)
    assert token.access_token not in page


def test_authorization_server_demanding_nonces_forever_gets_one_retry() -> None:
    """A fault no real server produces on purpose: every proof answered with a new use_dpop_nonce."""
    import itertools
    import json

    from .support.servers import LocalServer, Reply

    counter = itertools.count()
    seen = []

    def always_new_nonce(req, _raw):  # type: ignore[no-untyped-def]
        seen.append(req)
        return Reply(400, json.dumps({"error": "use_dpop_nonce", "error_description": "nonce please"}),
                     {"Content-Type": "application/json", "DPoP-Nonce": f"n-{next(counter)}"})

    with LocalServer(always_new_nonce) as srv:
        cfg = nb_oauth.OAuth2Config(token_name="nonce", grant_type="client_credentials", access_token_url=srv.url + "/t",
                                    client_id="c", client_secret="s3cret", dpop=True)
        with pytest.raises(nb_oauth.TokenEndpointError) as err:
            nb_oauth.get_new_access_token(cfg)
    assert len(seen) == 2 and err.value.error == "use_dpop_nonce"
    assert "dpop" in seen[1].headers and seen[0].headers["dpop"] != seen[1].headers["dpop"]


def test_proof_from_another_key_is_refused_and_the_token_kept(oidc_provider, provider_login) -> None:
    """A public client's refresh token is bound to its DPoP key: a proof signed with any other key is refused."""
    import dataclasses

    from nb_oauth.dpop import DPoPKey

    cfg = nb_oauth.OAuth2Config(token_name="web", grant_type="authorization_code_with_pkce", issuer=oidc_provider.issuer,
                                client_id="public", scope="openid", dpop=True)
    token = nb_oauth.get_new_access_token(cfg)
    kept = token.access_token
    token._swap(dataclasses.replace(token.token_set, dpop_key=DPoPKey.generate("ES256")))  # the key is not the one bound
    with pytest.raises(nb_oauth.RefreshError) as err:
        nb_oauth.tokens.refresh("web")
    assert err.value.error in ("invalid_grant", "invalid_dpop_proof")
    assert nb_oauth.tokens["web"].access_token == kept

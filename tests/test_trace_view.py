"""The trace as a sequence diagram: structure, escaping, and a real render in headless Chromium."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import nb_oauth
from nb_oauth._trace import Trace
from nb_oauth.display import jwt_explain, trace_view

from .conftest import CHROMIUM_ARGS, chromium_or_skip

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "trace"
SVG = "{http://www.w3.org/2000/svg}"

ACCESS = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLW9mLXRoZS1hY2Nlc3MtdG9rZW4"
REFRESH = "rt-8c1f0e2d9b7a6c5d4e3f2a1b0c9d8e7f"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CODE = "SplxlOBeZQQYbYS6WxSbIA"
CLIENT_SECRET = "s3cr3t-client-value-123"


def pkce_trace() -> Trace:
    """What a PKCE login, an API call, a failed refresh and the failure look like when recorded."""
    t = Trace("authorization_code_with_pkce", "acme")
    t.add_secret(CLIENT_SECRET)
    t0 = time.time() - 311.0  # the failure below is recorded "now"
    auth = ("https://login.acme.example/authorize?response_type=code&client_id=acme-notebook"
            "&redirect_uri=http%3A%2F%2F127.0.0.1%3A53127%2Fcallback&scope=openid+profile+offline_access"
            "&state=af0ifjsldkj&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            "&code_challenge_method=S256")
    t.record("Listening on 127.0.0.1:53127 for the redirect", "notebook", "notebook", kind="note",
             note="Loopback only; waits up to 300 s for a redirect carrying this flow's state.", started=t0)
    t.record("Open the authorization URL", "notebook", "browser", method="GET", url=auth,
             params=[("response_type", "code"), ("client_id", "acme-notebook"),
                     ("redirect_uri", "http://127.0.0.1:53127/callback"), ("scope", "openid profile offline_access"),
                     ("state", "af0ifjsldkj"), ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                     ("code_challenge_method", "S256")], started=t0 + 0.02, duration=0.004)
    t.record("Authorization request", "browser", "server", method="GET", url=auth, status=200,
             started=t0 + 0.05, duration=0.182)
    t.record("Log in and approve the requested scopes", "user", "browser", started=t0 + 2.1, duration=6.3)
    t.record("Redirect back with the authorization code", "server", "browser", kind="redirect", status=302,
             url=f"http://127.0.0.1:53127/callback?code={CODE}&state=af0ifjsldkj",
             params=[("code", CODE), ("state", "af0ifjsldkj")], started=t0 + 8.4, duration=0.031)
    t.record("Callback reaches the listener (state checked)", "browser", "notebook", method="GET",
             url=f"http://127.0.0.1:53127/callback?code={CODE}&state=af0ifjsldkj", status=200,
             started=t0 + 8.45, duration=0.003)
    t.record("Token request: code + PKCE verifier", "notebook", "server", method="POST",
             url="https://login.acme.example/oauth/token",
             params=[("grant_type", "authorization_code"), ("code", CODE),
                     ("redirect_uri", "http://127.0.0.1:53127/callback"), ("code_verifier", VERIFIER),
                     ("client_id", "acme-notebook")],
             headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic YWNtZTpzZWNyZXQ="},
             started=t0 + 8.46, duration=0.121)
    t.record("Token response", "server", "notebook", kind="response", status=200,
             response={"access_token": ACCESS, "token_type": "Bearer", "expires_in": 300,
                       "refresh_token": REFRESH, "scope": "openid profile offline_access"},
             started=t0 + 8.58)
    t.record("Check the ID token: signature, issuer, audience, nonce", "notebook", "notebook",
             started=t0 + 8.71, duration=0.012)
    t.record("GET /me with the access token", "notebook", "api", method="GET", url="https://api.acme.example/me",
             headers={"Authorization": f"Bearer {ACCESS}"}, status=200, started=t0 + 9.0, duration=0.088)
    t.record("Refresh the access token", "notebook", "server", method="POST",
             url="https://login.acme.example/oauth/token",
             params=[("grant_type", "refresh_token"), ("refresh_token", REFRESH), ("client_secret", CLIENT_SECRET)],
             started=t0 + 310.0, duration=0.097)
    t.record("Refresh refused", "server", "notebook", kind="error", status=400,
             response={"error": "invalid_grant", "error_description": "refresh token revoked"},
             note="invalid_grant: refresh token revoked", started=t0 + 310.1)
    t.fail("Refreshing 'acme' failed (server said: invalid_grant — refresh token revoked). "
           "Fix: get a new token (log in again).")
    return t


def svg_root(trace: Trace) -> ET.Element:
    return ET.fromstring(trace_view.render_svg(trace))


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


# -- structure --------------------------------------------------------------------------------------


def test_svg_has_one_numbered_mark_per_step_and_an_arrow_per_message() -> None:
    trace = pkce_trace()
    root = svg_root(trace)
    badges = [el for el in root.iter(f"{SVG}circle")]
    assert len(badges) == len(trace.steps)
    numbers = ["".join(el.itertext()) for el in root.iter(f"{SVG}text") if el.get("x") == "22.0"]
    assert numbers == [str(i) for i in range(1, len(trace.steps) + 1)]
    messages = [s for s in trace.steps if s.kind != "note"]
    heads = list(root.iter(f"{SVG}polygon"))
    assert len(heads) == len(messages)  # one arrowhead per message (self-messages too); notes have none


def test_only_the_actors_used_get_lifelines_in_canonical_order() -> None:
    trace = pkce_trace()
    assert trace_view.actor_order(trace.steps) == ["user", "browser", "notebook", "server", "api"]
    small = Trace("client_credentials", "svc")
    small.record("Token request", "notebook", "server", method="POST", url="https://idp.example/token", status=200)
    small.record("Token response", "server", "notebook", kind="response", status=200)
    labels = texts(svg_root(small))
    assert "Notebook" in labels and "Authorization server" in labels
    assert "Browser" not in labels and "User" not in labels and "API" not in labels
    assert "idp.example" in labels  # the server's host under its name


def test_errors_are_red_and_statuses_durations_are_shown() -> None:
    svg = trace_view.render_svg(pkce_trace())
    red = trace_view.COLORS["error"]
    assert svg.count(f'stroke="{red}"') >= 2  # the refused refresh arrow and the failure box
    assert "invalid_grant: refresh token" in svg
    assert ">302<" in svg and ">400<" in svg and "182 ms" in svg and "121 ms" in svg
    assert 'stroke-dasharray="7 5"' in svg  # the token response is drawn dashed


def test_long_titles_wrap_and_the_diagram_grows_with_steps() -> None:
    short = Trace()
    short.record("Token request", "notebook", "server")
    long_title = "A very long step title that explains in detail what the notebook asked the server for and why"
    wrapped = Trace()
    wrapped.record(long_title, "notebook", "server")
    h_short = float(svg_root(short).get("height"))
    h_wrapped = float(svg_root(wrapped).get("height"))
    assert h_wrapped > h_short
    lines = [t for t in texts(svg_root(wrapped)) if t and t in long_title]
    assert len(lines) >= 3 and all(len(line) < 40 for line in lines)
    many = Trace()
    for i in range(12):
        many.record(f"Step {i}", "notebook", "server")
    assert float(svg_root(many).get("height")) > h_short + 11 * 40


def test_hostile_text_is_escaped_everywhere() -> None:
    t = Trace("implicit", "<b>x</b>")
    hostile = '<script>alert("t")</script><img src=x onerror=alert(1)>'
    t.record(hostile, "notebook", "server", method="GET", url=f"https://idp.example/a?x={hostile}",
             params=[(hostile, hostile)], headers={"X-Evil": hostile}, status=400,
             response={"error": hostile}, note=hostile)
    t.record(hostile, "server", "server", kind="note", note=hostile)
    out = trace_view.render_html(t)
    assert "<script" not in out and "<img" not in out and "<b>x</b>" not in out
    assert "&lt;script&gt;" in out
    root = ET.fromstring(trace_view.render_svg(t))  # still well-formed XML …
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))  # … with no script in it
    text = trace_view.render_text(t)
    assert hostile in text  # plain text is not HTML: shown as is


def test_details_are_numbered_and_hold_the_raw_masked_exchange() -> None:
    trace = pkce_trace()
    out = trace_view.render_html(trace)
    assert out.count("<details") == len(trace.steps)
    for i in range(1, len(trace.steps) + 1):
        assert "<b style=\"color:" in out and f">{i}. " in out
    assert "POST https://login.acme.example/oauth/token" in out
    assert "PKCE: the secret the challenge was made from" in out  # a parameter's one-line meaning
    assert "seconds until the access token expires" in out  # a response field's meaning
    for secret in (ACCESS, REFRESH, VERIFIER, CODE, CLIENT_SECRET, "YWNtZTpzZWNyZXQ="):
        assert secret not in out, secret
    assert "Failed: " in out


def test_render_text_lists_every_step_with_meanings() -> None:
    trace = pkce_trace()
    text = trace_view.render_text(trace)
    numbered = [line for line in text.splitlines() if re.match(r"\s*\d+\. ", line)]
    assert len(numbered) == len(trace.steps)
    assert "code_challenge_method = S256" in text and "(PKCE: how the challenge was made" in text
    assert "[ERROR]" in text and "302" in text
    for secret in (ACCESS, REFRESH, VERIFIER, CODE, CLIENT_SECRET):
        assert secret not in text


def test_trace_rich_display_uses_the_diagram() -> None:
    trace = pkce_trace()
    assert "<svg" in trace._repr_html_() and "<details" in trace._repr_html_()


def test_empty_trace_renders() -> None:
    out = trace_view.render_html(Trace())
    assert "No steps recorded yet." in out and "<svg" in out


def test_duration_format() -> None:
    assert trace_view.format_duration(0.0854) == "85 ms"
    assert trace_view.format_duration(1.44) == "1.4 s"
    assert trace_view.format_duration(125) == "2 min 5 s"
    assert trace_view.format_duration(None) == ""


# -- a real render ----------------------------------------------------------------------------------


@pytest.mark.browser
def test_renders_in_headless_chromium_to_png() -> None:
    executable = chromium_or_skip()
    sync_api = pytest.importorskip("playwright.sync_api")
    trace = pkce_trace()
    page_html = f"<!doctype html><meta charset='utf-8'><body style='margin:16px'>{trace_view.render_html(trace)}</body>"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / "pkce-refresh-error.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_content(page_html)
            box = page.locator("svg").bounding_box()
            assert box is not None and box["width"] > 600 and box["height"] > 500
            assert page.locator("details").count() == len(trace.steps)
            page.locator("details").nth(6).locator("summary").click()  # open the token request
            assert page.locator("details").nth(6).evaluate("d => d.open")
            assert page.get_by_text("PKCE: the secret the challenge was made from").is_visible()
            page.screenshot(path=str(target), full_page=True)
        finally:
            browser.close()
    assert target.stat().st_size > 10_000
    print(f"trace diagram rendered to {target}")


# -- JWT explained (the token-reading companion of the trace view) -----------------------------------


def _signed(claims: dict, header: dict | None = None) -> tuple[str, object]:
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
    return jwt.encode(header or {"alg": "RS256", "kid": "test-key", "typ": "JWT"}, claims, key), key


NOW = datetime(2024, 5, 2, 12, 0, 0, tzinfo=UTC)


def id_token_claims() -> dict:
    base = int(NOW.timestamp())
    return {"iss": "https://login.acme.example", "sub": "248289761001", "aud": ["acme-notebook", "acme-api"],
            "exp": base + 240, "iat": base - 3 * 3600, "nbf": base - 3 * 3600, "auth_time": base - 2 * 86400,
            "nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ", "azp": "acme-notebook",
            "email": "alice@example.com", "name": "Alice <Admin>", "acr": "urn:mace:incommon:iap:silver",
            "amr": ["pwd", "otp"], "sid": "08a5019c-17e1", "scope": "openid email", "client_id": "acme-notebook",
            "jti": "id-123", "c_hash": "LDktKdoQak3Pk0cnXxCltA", "tenant_colour": "blue"}


def test_explain_rows_meanings_and_relative_times() -> None:
    from joserfc import jwt as jose_jwt

    token, key = _signed(id_token_claims())
    verified = jose_jwt.decode(token, key)  # the caller's own verification, passed on as verified=True
    assert verified.claims["sub"] == "248289761001"
    e = jwt_explain.explain(token, verified=True, now=NOW)
    assert e.header["kid"] == "test-key" and e.claims["sub"] == "248289761001"
    rows = {claim: (value, meaning) for claim, value, meaning in e.rows}
    for claim in ("iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "nonce", "at_hash", "c_hash",
                  "auth_time", "acr", "amr", "sid", "scope", "client_id", "name", "email"):
        assert rows[claim][1], f"{claim} has no meaning"
    assert rows["tenant_colour"] == ("blue", "")
    assert rows["exp"][0] == "2024-05-02 12:04:00 UTC (in 4 min)"
    assert rows["iat"][0] == "2024-05-02 09:00:00 UTC (3 h ago)"
    assert rows["auth_time"][0].endswith("(2 d ago)")
    assert rows["aud"][0] == "acme-notebook, acme-api"
    assert e.signature == "verified" and e.expired is False and e.status() == "expires in 4 min"


def test_explain_signature_states_and_expiry() -> None:
    claims = id_token_claims()
    claims["exp"] = int(NOW.timestamp()) - 90
    token, _ = _signed(claims)
    assert "not checked" in jwt_explain.explain(token, now=NOW).signature
    failed = jwt_explain.explain(token, verified=False, now=NOW)
    assert failed.signature.startswith("NOT verified") and failed.expired is True
    assert failed.status() == "expired 2 min ago"
    assert "not checked" not in failed._repr_html_() and "NOT verified" in failed._repr_html_()


def test_explain_never_shows_the_raw_token_and_escapes_html() -> None:
    token, _ = _signed(id_token_claims())
    e = jwt_explain.explain(token, verified=True, now=NOW)
    html_out, text = e._repr_html_(), repr(e)
    for part in token.split("."):
        assert part not in html_out and part not in text
    assert "Alice &lt;Admin&gt;" in html_out and "<Admin>" not in html_out
    assert "Alice <Admin>" in text and "in 4 min" in text and "signature verified" in text


def test_explain_refuses_what_is_not_a_jwt() -> None:
    for value, why in (("opaque-access-token-value", "opaque"), ("a.b.c.d.e", "encrypted"), ("", "empty"),
                       ("x.y.z", "do not decode")):
        with pytest.raises(jwt_explain.NotAJWTError, match=why) as info:
            jwt_explain.explain(value)
        assert "opaque-access-token-value" not in str(info.value)
    assert issubclass(jwt_explain.NotAJWTError, nb_oauth.OAuthError)


def test_relative_time_wording() -> None:
    assert jwt_explain.relative_time(NOW, NOW) == "just now"
    assert jwt_explain.relative_time(NOW + timedelta(seconds=30), NOW) == "in 30 s"
    assert jwt_explain.relative_time(NOW - timedelta(minutes=59, seconds=50), NOW) == "1 h ago"
    assert jwt_explain.relative_time(NOW + timedelta(days=400), NOW) == "in 1 y"


def test_self_messages_stay_inside_the_drawing() -> None:
    t = Trace()
    t.record("Token request", "notebook", "api")
    t.record("Validate the response against the cached JWKS of the API", "api", "api", duration=0.004)
    root = svg_root(t)
    width = float(root.get("width"))
    label = next(el for el in root.iter(f"{SVG}text") if "Validate" in "".join(el.itertext()))
    assert label.get("text-anchor") == "end" and float(label.get("x")) < width
    t.record("Check the ID token", "notebook", "notebook")
    label = next(el for el in svg_root(t).iter(f"{SVG}text") if "Check the ID" in "".join(el.itertext()))
    assert label.get("text-anchor") == "start"

"""The cells of learn-oauth.ipynb: OAuth 2.0 step by step, its protections, sender-constrained tokens."""

from __future__ import annotations

from _cells import code, demo_setup, md

LEARN = [
    md("""
# Learn OAuth 2.0 by watching it

This notebook runs entirely on this machine, against nb_oauth's embedded demo authorization server.
Each grant is run for real and then **shown**: every request and redirect of the flow as a
sequence diagram, each parameter with what it is for. Open a step's row under the diagram to
see the raw exchange (secrets are masked: only their first characters are ever shown).

The second half attacks the protections — a forged `state`, a replayed code, a wrong PKCE
verifier, an expired token, a revoked refresh token — and shows each one fail, with the reason.
"""),
    code("%load_ext nb_oauth"),
    demo_setup("import requests\nimport nb_oauth\n"),
    md("""
## 1. Client credentials: the simplest grant

No user, no browser: the application proves who it is (here with HTTP Basic authentication of
its client ID and secret) and gets a token for itself. One request, one response.
"""),
    code("%oauth_token app --grant-type client_credentials --issuer {{DEMO}} --client-id demo-confidential --client-secret {{DEMO_SECRET}} --scope items:read --trace"),
    md("""
## 2. Authorization code with PKCE: how people log in

Four things protect this flow, and the diagram shows each:

* **state**: a random value the notebook sends and expects back; a redirect carrying any other
  value is ignored (that stops cross-site request forgery).
* **PKCE**: the notebook keeps a secret *verifier* and sends only its SHA-256 *challenge*; the
  code is worthless to anyone who cannot show the verifier at the token endpoint.
* **nonce**: a random value the ID token must repeat, so an old ID token cannot be replayed.
* **the redirect URI**: the code goes only to the kernel-local listener on 127.0.0.1.

A login tab opens: sign in as one of the demo users listed on the page.
"""),
    code('%oauth_token me --grant-type authorization_code_with_pkce --issuer {{DEMO}} --client-id demo-public --scope "openid profile email offline_access items:read" --trace'),
    md("The ID token is a signed JWT. Here is what it says, claim by claim, and whether its signature was checked:"),
    code('''
from nb_oauth.display.jwt_explain import explain

explain(me.id_token, verified=me.id_token_verified)
'''),
    md("""
## 3. Device code: logging in from somewhere without a browser

The notebook asks for a device code, shows you a short *user code*, and polls the token endpoint
while you approve on any device.
"""),
    code('%oauth_token tv --grant-type device_code --issuer {{DEMO}} --client-id demo-public --scope "openid profile" --trace'),
    md("""
## 4. Refresh: a new access token without a new login

The refresh token is exchanged for a new access token (and, on this server, a new refresh
token: *rotation*, the old one stops working). The refresh shows up as a new step in the trace.
"""),
    code("%oauth_token me --refresh"),
    code("%oauth_token me --trace"),
    md("""
# Part two: the protections at work

To attack a flow we stand where an attacker stands: between the browser and the notebook. The
helper below starts a real login (listener, state, PKCE) and has a scripted user log in, but
**stops before the code is exchanged**, so we can tamper with what comes next.
"""),
    code('''
from nb_oauth.demo.robot import run as scripted_user_logs_in
from nb_oauth.grants.redirect import RedirectFlow
from nb_oauth.grants.resolve import resolve_config

PKCE = nb_oauth.OAuth2Config(token_name="attack", grant_type="authorization_code_with_pkce",
                             issuer=DEMO, client_id="demo-public", scope="openid profile")


def intercepted_login():
    """A real login up to the redirect: the flow, and what the browser brought back."""
    flow = RedirectFlow(resolve_config(PKCE), open_browser=False)
    flow.start()
    scripted_user_logs_in(flow.authorization_url)
    return flow, flow.listener.wait(10)


def show_failure(exc):
    print(f"{type(exc).__name__}: {exc}")
'''),
    md("""
### A forged state

An attacker tricks your browser into visiting the listener with *their* code. They do not know
the state this login sent, so the listener refuses the request, and keeps waiting for the real
redirect, which nobody else can end.
"""),
    code('''
flow = RedirectFlow(resolve_config(PKCE), open_browser=False)
flow.start()
forged = requests.get(flow.redirect_uri, params={"code": "attacker-code", "state": "forged"}, timeout=5)
print("listener answered", forged.status_code, "and is still waiting for the real login:", not flow.listener.done)
scripted_user_logs_in(flow.authorization_url)
print("the real redirect completed the login:", flow.listener.wait(10) is not None)
'''),
    md("""
### A replayed authorization code

A code works once. The first exchange succeeds; sending the same code again is refused (and a
careful server, like this one, also revokes the tokens the code produced).
"""),
    code('''
flow, redirect = intercepted_login()
first = flow.finish(redirect)
print("first exchange: got a token", nb_oauth.errors.mask(first.access_token))
try:
    flow.finish(redirect)
except nb_oauth.OAuthError as exc:
    show_failure(exc)
'''),
    md("""
### A stolen code without the PKCE verifier

Suppose the code leaks (a log, a malicious app on the same machine). Without the verifier that
only this notebook holds, the token endpoint refuses it.
"""),
    code('''
flow, redirect = intercepted_login()
flow.code_verifier = "attacker-guess-" + "x" * 40   # the real one never left the kernel
try:
    flow.finish(redirect)
except nb_oauth.OAuthError as exc:
    show_failure(exc)
'''),
    md("""
### An expired access token

Access tokens are short-lived on purpose. With auto-refresh off, nb_oauth does not even send an
expired token; the API refuses it too.
"""),
    code('''
import time

short = DemoServer(access_token_lifetime=2).start()
brief = nb_oauth.get_new_access_token(nb_oauth.OAuth2Config(
    token_name="brief", grant_type="client_credentials", issuer=short.url, client_id="demo-confidential",
    client_secret="{{DEMO_SECRET}}", auto_refresh=False))
time.sleep(2.5)
try:
    nb_oauth.session("brief").get(short.url + "/api/me")
except nb_oauth.OAuthError as exc:
    show_failure(exc)
stale = requests.get(short.url + "/api/me", headers={"Authorization": "Bearer " + brief.access_token}, timeout=5)
print("the API, asked directly with the expired token:", stale.status_code, stale.headers.get("WWW-Authenticate"))
'''),
    md("""
### A revoked refresh token

Revocation (RFC 7009) kills the refresh token at the server. Anyone holding a copy, including a
thief who copied it before, can no longer use it.
"""),
    code('''
victim_config = nb_oauth.OAuth2Config(
    token_name="victim", grant_type="password_credentials", issuer=DEMO, client_id="demo-confidential",
    client_secret="{{DEMO_SECRET}}", username="alice", password="{{ALICE_PASSWORD}}", scope="profile")
victim = nb_oauth.get_new_access_token(victim_config)
stolen = victim.token_set                 # what a thief copied
nb_oauth.tokens.revoke("victim")          # refresh token first, then the access token
nb_oauth.tokens.put(victim_config.copy(token_name="thief"), stolen)
try:
    nb_oauth.tokens.refresh("thief")
except nb_oauth.OAuthError as exc:
    show_failure(exc)
'''),
    md("""
Every one of these failures came with its reason, and none showed a secret. The protections are
not magic: a few random values and one-time codes, checked at the right moments, and now you
have seen each check happen.
"""),
    md("""
# Part three: sender-constrained tokens, signed client auth and pushed requests

Everything above still has one weakness: a **bearer** token works for whoever holds it. Copy it
out of a log and you are the user. The FAPI 2.0 Security Profile (what banks and health APIs now
require) closes that gap with three tools, and this chapter shows each one at work:

* **DPoP** (RFC 9449): every token is bound to a key pair that never leaves the kernel. Each
  request carries a fresh *proof*, a small JWT signed with that key, naming the method, the URL
  and a hash of the token. A stolen token without the key is useless; a replayed proof is refused.
* **private_key_jwt** (RFC 7523): instead of a shared secret, the client signs a short-lived
  assertion with its own private key on every request to the authorization server.
* **PAR** (RFC 9126): the authorization parameters are pushed to the server directly; the browser
  only carries an opaque `request_uri`, so nothing in the URL can be read or altered.

The demo server has no DPoP, so this part runs against **panva's oidc-provider**, a certified
OpenID provider, with a resource server that checks every DPoP proof. It needs Node.js: `make demo`
(and `make test`) install oidc-provider when npm is there (`npm ci` in `tests/servers/oidc_provider`);
without it this part says so and is skipped.
"""),
    code('''
import sys
from pathlib import Path

ROOT = Path(nb_oauth.__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
try:
    from tests.support import oidc_provider
    from tests.support.dpop_resource_server import DPoPResourceServer
    from tests.support.provider_login import run as person_logs_in_at_provider

    provider_run = oidc_provider.start("general", requireNonce=True)
    PROVIDER = provider_run.__enter__()
    API = DPoPResourceServer(PROVIDER.issuer + "/token/introspection", "rs", PROVIDER.secret("rs"),
                             require_nonce=True).start()
    CLIENT_KEY = PROVIDER.keys.jwk_text("ec")   # the client's private key: a secret, used through {{CLIENT_KEY}}
    print("oidc-provider:", PROVIDER.issuer, "| DPoP-checking API:", API.url)
except Exception as exc:  # not installed: the rest of this part is skipped
    PROVIDER = None
    print(f"This part is skipped: {type(exc).__name__}: {exc}")
'''),
    md("""
### A DPoP-bound token, fetched with a signed client assertion

`dpop=True` gives the token its own key pair; `private_key_jwt` signs a fresh assertion with the
client's key. The trace shows each DPoP proof decoded (its header holds only the *public* key),
and the server asking for a **nonce** (`use_dpop_nonce`) before it answers: nb_oauth retries once,
with the nonce in a new proof.
"""),
    code('''
if PROVIDER:
    bound = nb_oauth.get_new_access_token(nb_oauth.OAuth2Config(
        token_name="bound", grant_type="client_credentials", issuer=PROVIDER.issuer, client_id="pkjwt",
        client_authentication="private_key_jwt", client_assertion_key="{{CLIENT_KEY}}", scope="api", dpop=True))
    print("token_type:", bound.token_type, "| bound to key", bound.token_set.dpop_key)
    display(bound.trace)
'''),
    md("""
The API checks the proof's signature, its `htm`/`htu`/`ath`, a fresh `jti`, its own nonce (one
more retry), and that the token's `cnf.jkt` (from introspection) is the proof key's thumbprint.
"""),
    code('''
if PROVIDER:
    r = nb_oauth.session("bound").get(API.url + "/accounts")
    print(r.status_code, r.json(), "| nonce challenges so far:", API.stats.nonce_challenges)
'''),
    md("""
### A stolen DPoP token, without its key

The thief has the token string, but not the private key, so they cannot sign a proof. Sent as a
Bearer token or as DPoP without a proof, it is refused.
"""),
    code('''
if PROVIDER:
    stolen = bound.access_token
    for scheme in ("Bearer", "DPoP"):
        r = requests.get(API.url + "/accounts", headers={"Authorization": f"{scheme} {stolen}"}, timeout=5)
        print(f"stolen token as {scheme}: {r.status_code} {r.json()['error']}")
'''),
    md("""
### A replayed proof

A thief who also copied a whole request (token *and* proof) tries to send it again. Each proof has
a unique `jti`, and the API has seen this one: refused.
"""),
    code('''
if PROVIDER:
    sent = nb_oauth.session("bound").get(API.url + "/accounts")
    replay = requests.get(API.url + "/accounts", headers=dict(sent.request.headers), timeout=5)
    print("original:", sent.status_code, "| replayed proof:", replay.status_code, replay.json()["why"])
'''),
    md("""
### PAR: the parameters stay out of the browser

With `use_par=True` the notebook pushes scope, redirect URI, state, PKCE challenge and the DPoP key
thumbprint to the server first. The link the browser gets holds only `client_id` and a
`request_uri` that expires in a minute.
"""),
    code('''
if PROVIDER:
    from urllib.parse import parse_qsl, urlsplit

    flow = nb_oauth.start_flow(nb_oauth.OAuth2Config(
        token_name="pushed", grant_type="authorization_code_with_pkce", issuer=PROVIDER.issuer, client_id="public",
        scope="openid email", use_par=True, dpop=True), open_browser=False)
    print("the browser sees only:", sorted(k for k, _ in parse_qsl(urlsplit(flow.authorization_url).query)))
    person_logs_in_at_provider(flow.authorization_url)
    pushed = flow.wait()
    print("logged in:", pushed.token_type, "| userinfo:", nb_oauth.tokens.userinfo("pushed"))
    display(pushed.trace)
'''),
    code('''
if PROVIDER:
    API.stop()
    provider_run.__exit__(None, None, None)
'''),
]

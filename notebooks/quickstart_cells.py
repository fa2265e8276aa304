"""The cells of quickstart.ipynb: the form, the magics, the token in requests and httpx."""

from __future__ import annotations

from _cells import code, demo_setup, md

QUICKSTART = [
    md("""
# nb_oauth quickstart

Every grant of OAuth 2.0 against the **embedded demo authorization server** — a real OAuth 2.0 /
OpenID Connect server running on this machine, so no account is needed anywhere. When a login
tab opens, sign in as one of the demo users listed on the login page.

Run the cells top to bottom. Nothing secret is written into this notebook: secrets reach nb_oauth
through `{{NAME}}` placeholders, filled from notebook variables or the environment when used, and
tokens are only ever shown masked.
"""),
    md("""
> **On JupyterHub or Binder** the browser cannot reach this kernel's `127.0.0.1`, so the demo
> server's login pages and the redirect back to the kernel go through the Jupyter server's proxy.
> For that nb_oauth needs the page's public address: show the form once (run `%oauth_token`, as
> in section 6), or set `NB_OAUTH_PUBLIC_URL` to the server's base URL
> (e.g. `https://hub.example/user/you/`). On a laptop there is nothing to do.
"""),
    code("%load_ext nb_oauth"),
    demo_setup(),
    md("""
## 1. Authorization code with PKCE — the one to use for people

`--issuer` alone is enough: OIDC discovery fills in the authorization, token, revocation and key
URLs. A login tab opens; the cell waits (with a countdown) until the redirect comes back to the
kernel, then binds the token to the variable `demo`.
"""),
    code('%oauth_token demo --grant-type authorization_code_with_pkce --issuer {{DEMO}} --client-id demo-public --scope "openid profile email offline_access items:read"'),
    code("demo  # a live Token: masked, with its expiry; it refreshes itself when used"),
    md("Call the API with the token. The cell is an HTTP request in the `.http` file style:"),
    code('''
%%authrequest demo
GET {{DEMO}}/api/me
Accept: application/json
'''),
    code('response.json()  # the response is bound to `response` (a requests.Response)'),
    code('''
%%authrequest demo --as dataframe --var items
GET {{DEMO}}/api/items?per_page=5
'''),
    code("items"),
    md("What does the ID token say about who logged in? (Decoded; the signature was checked against the server's keys.)"),
    code("demo.claims"),
    md("And how did we get here? Every step of the flow, secrets masked:"),
    code("%oauth_token demo --trace"),
    md("""
## 2. Client credentials — a program acting as itself

The client secret comes from the variable `DEMO_SECRET` through `{{DEMO_SECRET}}`; the notebook
never contains it.
"""),
    code("%oauth_token robot --grant-type client_credentials --issuer {{DEMO}} --client-id demo-confidential --client-secret {{DEMO_SECRET}} --scope items:read"),
    md("Any `requests` code works with the token; here a pagination loop over every item:"),
    code('''
import nb_oauth

api = nb_oauth.session("robot")          # a requests.Session: token attached, refreshed before it expires
items, url = [], f"{DEMO}/api/items?per_page=25"
while url:
    page = api.get(url).json()
    items += page["items"]
    url = page["next"]
len(items)
'''),
    code('''
import httpx

httpx.get(f"{DEMO}/api/me", auth=nb_oauth.auth("robot")).json()   # httpx too, sync or async
'''),
    md("""
## 3. Device code — for kernels no redirect can reach

The cell shows a code and a link; approve on any device. (This is how you log in from Colab, over
SSH, or on a locked-down hub.)
"""),
    code('%oauth_token tv --grant-type device_code --issuer {{DEMO}} --client-id demo-public --scope "openid profile items:read"'),
    md("## 4. Implicit and password — legacy grants, still out there"),
    code("%oauth_token legacy --grant-type implicit --issuer {{DEMO}} --client-id demo-public --scope profile"),
    code('%oauth_token pw --grant-type password_credentials --issuer {{DEMO}} --client-id demo-confidential --client-secret {{DEMO_SECRET}} --username alice --password {{ALICE_PASSWORD}} --scope "profile items:read"'),
    md("## 5. Managing tokens — Postman's *Manage Tokens*"),
    code("%oauth_token --list"),
    code("%oauth_token demo --refresh"),
    code("%oauth_token robot --revoke"),
    code('"robot" in nb_oauth.tokens'),
    md("""
## 6. The form

`%oauth_token` with no argument shows the configuration form and token manager, with Postman's
labels. To get a token from the demo server with it, type into **Configure New Token**:

| Field | What to type |
|---|---|
| Token Name | `form_demo` |
| Grant Type | Authorization Code (With PKCE) |
| Issuer | the demo server's address, printed by the next cell (then **Discover** fills the URLs) |
| Client ID | `demo-public` |
| Scope | `openid profile items:read` |

Then press **Get New Access Token**, sign in as one of the demo users listed on the login page and
press **Allow**. The token shows under **Manage Tokens** and the variable `form_demo` holds it.
Choosing a token in **Available Tokens** fills the form with the configuration it was made with;
the form keeps what you typed (never a secret) when you run its cell again.
"""),
    code('print("Issuer:", DEMO)'),
    code("%oauth_token"),
]

"""Writes the example notebooks from plain cell lists (so they stay reviewable as code)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).parent


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


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
    code("%load_ext nb_oauth"),
    code('''
import os
from nb_oauth.demo import DEMO_USERS, DemoServer
from nb_oauth.demo import CONFIDENTIAL_CLIENT_SECRET as DEMO_SECRET

# `make demo` starts the demo server and passes its address; otherwise start one in this kernel.
DEMO = os.environ.get("NB_OAUTH_DEMO_URL") or DemoServer().start().url
ALICE_PASSWORD = DEMO_USERS["alice"]
print("Demo authorization server:", DEMO)
'''),
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
labels. Fill it in and press **Get New Access Token**.
"""),
    code("%oauth_token"),
]


GITHUB = [
    md("""
# A real provider: GitHub, with the device flow

GitHub's OAuth apps support the device flow, which needs no redirect back to the kernel, so this
works the same on a laptop, on JupyterHub and on Binder.

1. Create an OAuth app at <https://github.com/settings/developers> and tick **Enable Device Flow**.
2. Put its client ID in the environment before starting Jupyter: `export GITHUB_CLIENT_ID=...`
   (a client ID is not a secret, but keeping it out of the notebook lets you share the notebook).
3. Run the cells. A code appears; enter it at GitHub, and the token lands in the variable `gh`.

The endpoints are read from the environment with GitHub's as defaults, so the same notebook also
runs against any other provider (or the embedded demo server, as the project's tests do).
"""),
    code("%load_ext nb_oauth"),
    code('''
import os

DEVICE_URL = os.environ.get("GITHUB_DEVICE_URL", "https://github.com/login/device/code")
TOKEN_URL = os.environ.get("GITHUB_TOKEN_URL", "https://github.com/login/oauth/access_token")
API = os.environ.get("GITHUB_API", "https://api.github.com")
SCOPE = os.environ.get("GITHUB_SCOPE", "read:user")
assert os.environ.get("GITHUB_CLIENT_ID"), "export GITHUB_CLIENT_ID=<your OAuth app's client ID> first"
'''),
    code('%oauth_token gh --grant-type device_code --device-authorization-url {{DEVICE_URL}} --access-token-url {{TOKEN_URL}} --client-id {{GITHUB_CLIENT_ID}} --scope {{SCOPE}}'),
    code('''
%%authrequest gh
GET {{API}}/user
Accept: application/vnd.github+json
'''),
    code('response.json().get("login") or response.json().get("sub")'),
    md("""
GitHub's device-flow tokens do not expire unless the app opts in to expiring tokens; when they
do, nb_oauth refreshes them like any other. Revoke from GitHub's settings page, or forget the
token here:
"""),
    code("%oauth_token gh --delete"),
]


def write(name: str, cells: list) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = HERE / name
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    for name, cells in (("quickstart.ipynb", QUICKSTART), ("github-device-flow.ipynb", GITHUB)):
        print(write(name, cells))

"""The cells of github-device-flow.ipynb: a real provider through the device flow."""

from __future__ import annotations

from _cells import code, md

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

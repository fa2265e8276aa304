"""Case 13: a client-credentials token with ``private_key_jwt`` against the same with ``client_secret_basic``.

Both fetch from panva's oidc-provider on loopback (installed by ``make test`` from
``tests/servers/oidc_provider``), request by request. The private_key_jwt side signs a fresh client
assertion for every token request (ES256, the key a new client would register); RS256 takes the same
turns beside it. Without Node.js or the installed provider the case is skipped, not failed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import nb_oauth

from .context import Bench
from .harness import CaseResult, interleave_requests, repeated_result

TARGET = 1.15
BASIC, PKJWT, RSA = "client_secret_basic", "private_key_jwt (ES256)", "private_key_jwt (RS256)"


def _fetcher(cfg: nb_oauth.OAuth2Config) -> Callable[[], str]:
    def fetch() -> str:
        return nb_oauth.get_new_access_token(cfg).access_token

    return fetch


def run(bench: Bench) -> CaseResult:
    from tests.support import oidc_provider as op

    title = "13. Token fetch: private_key_jwt vs client_secret_basic (oidc-provider)"
    if shutil.which("node") is None or not (op.SERVER_DIR / "node_modules" / "oidc-provider").is_dir():
        return CaseResult(name="private_key_jwt_fetch", title=title, unit="µs per token", ours=None, baseline=None,
                          ratio=None, repetitions=0, target=f"ratio ≤ {TARGET}", passed=None,
                          notes=["Skipped: oidc-provider is not installed (make test runs npm ci for it)."])
    n, repeats = (30, 2) if bench.quick else (2000, 5)
    with op.start("general") as provider:
        common = dict(grant_type="client_credentials", issuer=provider.issuer, scope="api")
        configs = {
            BASIC: nb_oauth.OAuth2Config(token_name="b-basic", client_id="basic", client_secret=provider.secret("basic"),
                                         **common),
            PKJWT: nb_oauth.OAuth2Config(token_name="b-pkjwt", client_id="pkjwt", client_authentication="private_key_jwt",
                                         client_assertion_key=provider.keys.jwk_text("ec"), **common),
            RSA: nb_oauth.OAuth2Config(token_name="b-rsa", client_id="pkjwt", client_authentication="private_key_jwt",
                                       client_assertion_key=provider.keys.pem("rsa"), **common),
        }
        rep = interleave_requests({name: _fetcher(cfg) for name, cfg in configs.items()}, requests=n,
                                  repeats=repeats, warmup=20)
    return repeated_result(
        name="private_key_jwt_fetch",
        title=title,
        unit="µs per token",
        rep=rep, ours=PKJWT, base=BASIC, target=TARGET,
        baseline_name="get_new_access_token with client_secret_basic, same provider",
        extra={"server": "panva's oidc-provider (Node.js) on loopback, its own process"},
        notes=["The provider verifies each assertion's signature and remembers its jti; both sides pay the same "
               "discovery (cached) and token checks."],
    )

"""From the config as written to the config a flow uses: the flow's job, so ``OAuth2Config`` stays pure data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import OAuth2Config
from ..oidc.discovery import apply_discovery
from ..redirect.callback import default_authorize_using_browser
from ._metadata_rules import apply_metadata_rules, check_fapi2_endpoints

#: Grants that never show the user a page: whether to open a browser is not theirs to decide (and the
#: environment is not probed for each of their token requests and refreshes).
NO_BROWSER_GRANTS = frozenset({"client_credentials", "password_credentials", "token_exchange"})


def resolve_config(cfg: OAuth2Config, extra: Mapping[str, Any] | None = None, *,
                   discover: bool = True) -> OAuth2Config:
    """Placeholders filled, endpoints discovered, the browser default decided, completeness checked."""
    resolved = cfg.with_placeholders_filled(extra)
    check_fapi2_endpoints(resolved)  # before discovery: under FAPI 2.0 only the issuer's metadata names endpoints
    if discover and resolved.issuer:
        resolved = apply_discovery(resolved)
    if discover:
        resolved = apply_metadata_rules(resolved)
    if resolved.authorize_using_browser is None and resolved.grant_type not in NO_BROWSER_GRANTS:
        # True where kernel and browser share the machine
        resolved = _with_browser_default(resolved, default_authorize_using_browser())
    resolved.check_complete()
    return resolved


def _with_browser_default(cfg: OAuth2Config, value: bool) -> OAuth2Config:
    """A copy with ``authorize_using_browser`` decided: every other field is the config's own, already
    checked, so the copy skips ``dataclasses.replace``'s second pass of checks (this runs for every token
    request and refresh)."""
    copy = object.__new__(OAuth2Config)
    copy.__dict__.update(vars(cfg))
    copy.authorize_using_browser = value
    return copy

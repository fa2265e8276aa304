"""From the config as written to the config a flow uses: the flow's job, so ``OAuth2Config`` stays pure data."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..config import OAuth2Config
from ..oidc.discovery import apply_discovery
from ..redirect.callback import default_authorize_using_browser
from ._metadata_rules import apply_metadata_rules, check_fapi2_endpoints


def resolve_config(cfg: OAuth2Config, extra: Mapping[str, Any] | None = None, *,
                   discover: bool = True) -> OAuth2Config:
    """Placeholders filled, endpoints discovered, the browser default decided, completeness checked."""
    resolved = cfg.with_placeholders_filled(extra)
    check_fapi2_endpoints(resolved)  # before discovery: under FAPI 2.0 only the issuer's metadata names endpoints
    if discover and resolved.issuer:
        resolved = apply_discovery(resolved)
    if discover:
        resolved = apply_metadata_rules(resolved)
    if resolved.authorize_using_browser is None:  # True where kernel and browser share the machine
        resolved = dataclasses.replace(resolved, authorize_using_browser=default_authorize_using_browser())
    resolved.check_complete()
    return resolved

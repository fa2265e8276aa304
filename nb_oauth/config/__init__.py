"""What a token request needs: ``OAuth2Config`` (pure data and checks) and ``{{NAME}}`` placeholders."""

from ._checks import (
    GRANT_TYPES,
    PARAM_FIELDS,
    REDIRECT_GRANTS,
    SECRET_FIELDS,
    SEND_AS,
    SEND_AS_ALIASES,
    URL_FIELDS,
    CustomParam,
    GrantType,
    check_callback_url,
    check_code_verifier,
    check_url,
    is_loopback_host,
    normalise_grant_type,
    normalise_params,
)
from ._model import OAuth2Config, field_labels
from ._modern import FAPI2_ALGS

__all__ = [
    "FAPI2_ALGS",
    "GRANT_TYPES",
    "PARAM_FIELDS",
    "REDIRECT_GRANTS",
    "SECRET_FIELDS",
    "SEND_AS",
    "SEND_AS_ALIASES",
    "URL_FIELDS",
    "CustomParam",
    "GrantType",
    "OAuth2Config",
    "check_callback_url",
    "check_code_verifier",
    "check_url",
    "field_labels",
    "is_loopback_host",
    "normalise_grant_type",
    "normalise_params",
]

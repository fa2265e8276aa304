"""The modern-security fields of a config: signed client auth, DPoP, PAR, JAR, token exchange and the
FAPI 2.0 Security Profile's client rules.

Pure checks on values (no network, no environment): :func:`normalise` runs when a config is made,
:func:`check_complete` when a flow is about to use it. The rules that need the provider's metadata are
in :mod:`nb_oauth.grants._metadata_rules`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from ._model import OAuth2Config

JWT_CLIENT_AUTH = ("private_key_jwt", "client_secret_jwt")
CLIENT_AUTH_METHODS = ("header", "body", *JWT_CLIENT_AUTH)
CLIENT_AUTH_ALIASES = {"basic": "header", "client_secret_basic": "header", "client_secret_post": "body",
                       "in_body": "body", "private-key-jwt": "private_key_jwt", "client-secret-jwt": "client_secret_jwt"}
ASSERTION_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
                  "HS256", "HS384", "HS512")
DPOP_ALGS = ("ES256", "PS256", "RS256", "EdDSA")
FAPI2_ALGS = ("PS256", "ES256", "EdDSA")
SECURITY_PROFILES = ("fapi2",)
TOKEN_TYPE_PREFIX = "urn:ietf:params:oauth:token-type:"
TOKEN_TYPE_SHORT = ("access_token", "refresh_token", "id_token", "saml1", "saml2", "jwt")
ACCESS_TOKEN_TYPE = TOKEN_TYPE_PREFIX + "access_token"


def _one_of(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if isinstance(value, str):
        for option in allowed:
            if value.strip().lower() == option.lower():
                return option
    raise ConfigError(f"{name} is {value!r}, which is not one of {', '.join(allowed)}.",
                      fix=f"Set {name} to one of: {', '.join(allowed)}.")


def _token_type(name: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a token type URI.", fix=f"Pass e.g. {name}='{ACCESS_TOKEN_TYPE}'.")
    value = value.strip()
    return TOKEN_TYPE_PREFIX + value if value in TOKEN_TYPE_SHORT else value


def normalise(cfg: OAuth2Config) -> None:
    """Types, spellings and the rules that need no placeholder filled and no network."""
    for name in ("client_assertion_key", "client_assertion_kid", "subject_token", "subject_token_name", "actor_token"):
        value = getattr(cfg, name)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{name} must be text, not {type(value).__name__}.", fix=f"Pass {name} as a string.")
        if isinstance(value, str) and not value.strip():
            setattr(cfg, name, None)
    for name in ("dpop", "request_object"):
        if not isinstance(getattr(cfg, name), bool):
            raise ConfigError(f"{name} must be True or False.", fix=f"Pass {name}=True or {name}=False.")
    if cfg.use_par is not None and not isinstance(cfg.use_par, bool):
        raise ConfigError("use_par must be True, False or None (None: as the provider's metadata says).",
                          fix="Pass use_par=True, use_par=False, or leave it unset.")
    if cfg.client_assertion_alg is not None:
        cfg.client_assertion_alg = _one_of("client_assertion_alg", cfg.client_assertion_alg, ASSERTION_ALGS)
    cfg.dpop_alg = _one_of("dpop_alg", cfg.dpop_alg, DPOP_ALGS)
    if cfg.security_profile is not None:
        text = str(cfg.security_profile).strip().lower().replace(" ", "").replace("-", "").replace(".", "")
        text = {"fapi20": "fapi2", "fapi2security": "fapi2", "none": ""}.get(text, text)
        cfg.security_profile = _one_of("security_profile", text, SECURITY_PROFILES) if text else None
    cfg.subject_token_type = _token_type("subject_token_type", cfg.subject_token_type) or ACCESS_TOKEN_TYPE
    cfg.actor_token_type = _token_type("actor_token_type", cfg.actor_token_type)
    cfg.requested_token_type = _token_type("requested_token_type", cfg.requested_token_type)
    if cfg.dpop and cfg.add_token_to == "url":
        raise ConfigError("A DPoP-bound token travels in the Authorization header (RFC 9449 §7.1), not in the URL.",
                          fix="Set add_token_to='header'" + ("." if cfg.security_profile else " (or dpop=False)."))
    if cfg.subject_token and cfg.subject_token_name:
        raise ConfigError("subject_token and subject_token_name both name the token to exchange.",
                          fix="Set one of them: subject_token='{{VAR}}' or subject_token_name='<a stored token>'.")
    if cfg.client_authentication == "client_secret_jwt" and cfg.client_assertion_alg is not None \
            and not cfg.client_assertion_alg.startswith("HS"):
        raise ConfigError(f"client_secret_jwt signs with the client secret (HMAC), so client_assertion_alg "
                          f"{cfg.client_assertion_alg} does not fit.",
                          fix="Leave client_assertion_alg unset (HS256), or use private_key_jwt for a key pair.")
    if cfg.security_profile == "fapi2":
        apply_fapi2(cfg)


def _fapi2_error(rule: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"FAPI 2.0 Security Profile, rule \"{rule}\": {problem}", fix=fix)


def apply_fapi2(cfg: OAuth2Config) -> None:
    """FAPI 2.0 Security Profile §5.3 (client rules): fill in what the profile decides, refuse what breaks it."""
    if cfg.grant_type in ("implicit", "password_credentials"):
        raise _fapi2_error("authorization code flow only", f"grant_type {cfg.grant_type} is not allowed.",
                           "Use grant_type='authorization_code_with_pkce' (the default under the profile).")
    if cfg.grant_type == "authorization_code":
        cfg.grant_type = "authorization_code_with_pkce"
    if cfg.code_challenge_method != "S256":
        raise _fapi2_error("PKCE with S256", f"code_challenge_method is {cfg.code_challenge_method}.",
                           "Set code_challenge_method='S256'.")
    if cfg.use_par is False:
        raise _fapi2_error("pushed authorization requests (PAR)", "use_par is False.",
                           "Leave use_par unset or True: the profile sends every authorization request through PAR.")
    cfg.use_par = True
    if cfg.client_authentication in ("header", "body"):
        if cfg.client_secret:
            raise _fapi2_error("private_key_jwt client authentication",
                               "a client secret (client_secret_basic / client_secret_post) is not allowed.",
                               "Remove client_secret and give client_assertion_key (the client's private key).")
        cfg.client_authentication = "private_key_jwt"
    if cfg.client_authentication == "client_secret_jwt":
        raise _fapi2_error("private_key_jwt client authentication", "client_secret_jwt is not allowed.",
                           "Set client_authentication='private_key_jwt' with client_assertion_key.")
    if cfg.add_token_to != "header":
        raise _fapi2_error("the access token in the Authorization header only", "add_token_to is 'url'.",
                           "Set add_token_to='header'.")
    cfg.dpop = True  # sender-constrained tokens: DPoP (mTLS binding is not offered)
    for name in ("client_assertion_alg", "dpop_alg"):
        alg = getattr(cfg, name)
        if alg is not None and alg not in FAPI2_ALGS:
            raise _fapi2_error("PS256, ES256 or EdDSA only", f"{name} is {alg}.",
                               f"Set {name} to one of {', '.join(FAPI2_ALGS)}, or leave it unset.")


FAPI2_ENDPOINT_FIELDS = ("auth_url", "access_token_url", "refresh_token_url", "device_authorization_url",
                         "revocation_url", "introspection_url", "userinfo_url", "jwks_url", "par_url")


def check_fapi2_endpoints(cfg: OAuth2Config) -> None:
    """Before discovery: under the profile every endpoint comes from the issuer's metadata."""
    if cfg.security_profile != "fapi2":
        return
    if not cfg.issuer:
        raise _fapi2_error("endpoints only from the issuer's metadata", "issuer is not set.",
                           "Set issuer='https://…' (its discovery document gives every endpoint).")
    given = [name for name in FAPI2_ENDPOINT_FIELDS if getattr(cfg, name)]
    if given:
        raise _fapi2_error("endpoints only from the issuer's metadata", f"{', '.join(given)} "
                           f"{'is' if len(given) == 1 else 'are'} set by hand.",
                           f"Remove {', '.join(given)}; discovery fills them from the issuer.")


def missing_fields(cfg: OAuth2Config) -> list[str]:
    """What the modern settings need that is not there (placeholders filled, discovery done)."""
    missing: list[str] = []
    if (cfg.client_authentication == "private_key_jwt" or cfg.request_object) and not cfg.client_assertion_key:
        missing.append("client_assertion_key")
    if cfg.client_authentication == "client_secret_jwt" and not cfg.client_secret:
        missing.append("client_secret")
    if cfg.grant_type == "token_exchange":
        if not cfg.subject_token and not cfg.subject_token_name:
            missing.append("subject_token")
        if not cfg.access_token_url:
            missing.append("access_token_url")
    if cfg.use_par and cfg.grant_type in ("authorization_code", "authorization_code_with_pkce") and not cfg.par_url:
        missing.append("par_url")
    return missing

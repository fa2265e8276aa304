"""``OAuth2Config``: Postman's "Configure New Token" as a dataclass, checked before anything is sent.

Field names are the snake_case of Postman's collection keys, so a Postman export maps 1:1.
Static checks run when the config is made (:meth:`OAuth2Config.__post_init__`); the checks that
need ``{{NAME}}`` placeholders filled or endpoints discovered run at use time, when a flow
resolves the config (:func:`nb_oauth.grants.resolve.resolve_config`). Nothing here touches the
network or the environment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from . import _modern, placeholders
from ._checks import (
    PARAM_FIELDS,
    REDIRECT_GRANTS,
    SECRET_FIELDS,
    URL_FIELDS,
    CustomParam,
    _choice,
    _string_list,
    check_callback_url,
    check_code_verifier,
    check_url,
    normalise_grant_type,
    normalise_params,
)
from ._modern import ACCESS_TOKEN_TYPE, CLIENT_AUTH_ALIASES, CLIENT_AUTH_METHODS


@dataclass
class OAuth2Config:
    """Everything needed to get, refresh, use and revoke one token.

    The Postman label of each field is in its metadata (``field.metadata["label"]``); fields
    beyond Postman carry ``extra=True``.
    """

    token_name: str = field(default="default", metadata={"label": "Token Name"})
    grant_type: str = field(default="authorization_code", metadata={"label": "Grant Type"})
    callback_url: str | None = field(default=None, metadata={"label": "Callback URL"})
    #: None picks the default: True where kernel and browser share the machine, False on a remote kernel.
    authorize_using_browser: bool | None = field(default=None, metadata={"label": "Authorize using browser"})
    auth_url: str | None = field(default=None, metadata={"label": "Auth URL"})
    access_token_url: str | None = field(default=None, metadata={"label": "Access Token URL"})
    refresh_token_url: str | None = field(default=None, metadata={"label": "Refresh Token URL"})
    device_authorization_url: str | None = field(
        default=None, metadata={"label": "Device Authorization URL", "extra": True}
    )
    revocation_url: str | None = field(default=None, metadata={"label": "Revocation URL", "extra": True})
    introspection_url: str | None = field(default=None, metadata={"label": "Introspection URL", "extra": True})
    userinfo_url: str | None = field(default=None, metadata={"label": "Userinfo URL", "extra": True})
    jwks_url: str | None = field(default=None, metadata={"label": "JWKS URL", "extra": True})
    issuer: str | None = field(default=None, metadata={"label": "Issuer (OIDC discovery)", "extra": True})
    client_id: str | None = field(default=None, metadata={"label": "Client ID"})
    client_secret: str | None = field(default=None, metadata={"label": "Client Secret", "secret": True})
    scope: str | None = field(default=None, metadata={"label": "Scope"})
    state: str | None = field(default=None, metadata={"label": "State"})
    client_authentication: str = field(default="header", metadata={"label": "Client Authentication"})
    code_challenge_method: str = field(default="S256", metadata={"label": "Code Challenge Method"})
    code_verifier: str | None = field(default=None, metadata={"label": "Code Verifier", "secret": True})
    username: str | None = field(default=None, metadata={"label": "Username"})
    password: str | None = field(default=None, metadata={"label": "Password", "secret": True})
    auth_request_params: list[CustomParam] = field(default_factory=list, metadata={"label": "Auth Request"})
    token_request_params: list[CustomParam] = field(default_factory=list, metadata={"label": "Token Request"})
    refresh_request_params: list[CustomParam] = field(default_factory=list, metadata={"label": "Refresh Request"})
    audience: list[str] = field(default_factory=list, metadata={"label": "Audience"})
    resource: list[str] = field(default_factory=list, metadata={"label": "Resource"})
    add_token_to: str = field(default="header", metadata={"label": "Add auth data to"})
    header_prefix: str = field(default="Bearer", metadata={"label": "Header Prefix"})
    auto_refresh: bool = field(default=True, metadata={"label": "Auto-refresh access token"})
    use_token_type: str = field(default="access_token", metadata={"label": "Use Token Type"})
    share: bool = field(default=False, metadata={"label": "Share access token", "extra": True})
    allow_insecure_http: bool = field(default=False, metadata={"label": "Allow plain http", "extra": True})
    refresh_leeway: float = field(default=60.0, metadata={"label": "Refresh leeway (s)", "extra": True})
    callback_timeout: float | None = field(default=None, metadata={"label": "Callback timeout (s)", "extra": True})
    validate_id_token: bool = field(default=True, metadata={"label": "Validate ID token", "extra": True})
    nonce: str | None = field(default=None, metadata={"label": "Nonce", "extra": True})
    # -- modern OAuth security (signed client auth, DPoP, PAR, JAR, FAPI 2.0, token exchange) --
    client_assertion_key: str | None = field(default=None, metadata={"label": "Client Assertion Key", "extra": True,
                                                                     "secret": True})
    client_assertion_kid: str | None = field(default=None, metadata={"label": "Client Assertion Key ID", "extra": True})
    client_assertion_alg: str | None = field(default=None, metadata={"label": "Client Assertion Algorithm",
                                                                     "extra": True})
    dpop: bool = field(default=False, metadata={"label": "DPoP (sender-constrained token)", "extra": True})
    dpop_alg: str = field(default="ES256", metadata={"label": "DPoP Algorithm", "extra": True})
    use_par: bool | None = field(default=None, metadata={"label": "Pushed Authorization Request (PAR)", "extra": True})
    par_url: str | None = field(default=None, metadata={"label": "PAR URL", "extra": True})
    request_object: bool = field(default=False, metadata={"label": "Signed Request Object (JAR)", "extra": True})
    security_profile: str | None = field(default=None, metadata={"label": "Security Profile", "extra": True})
    subject_token: str | None = field(default=None, metadata={"label": "Subject Token", "extra": True, "secret": True})
    subject_token_name: str | None = field(default=None, metadata={"label": "Subject Token Name", "extra": True})
    subject_token_type: str = field(default=ACCESS_TOKEN_TYPE, metadata={"label": "Subject Token Type", "extra": True})
    actor_token: str | None = field(default=None, metadata={"label": "Actor Token", "extra": True, "secret": True})
    actor_token_type: str | None = field(default=None, metadata={"label": "Actor Token Type", "extra": True})
    requested_token_type: str | None = field(default=None, metadata={"label": "Requested Token Type", "extra": True})

    def __post_init__(self) -> None:
        self.grant_type = normalise_grant_type(self.grant_type)
        for name in (*URL_FIELDS, "callback_url"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{name} must be a URL string, not {type(value).__name__}.", fix=f"Pass {name}='https://…'.")
            setattr(self, name, value.strip() or None if isinstance(value, str) else None)
        for name in ("token_name", "client_id", "client_secret", "scope", "state", "username", "password",
                     "code_verifier", "nonce", "header_prefix"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                if name == "scope" and isinstance(value, Iterable):
                    self.scope = " ".join(str(v) for v in value)
                    continue
                raise ConfigError(f"{name} must be a string, not {type(value).__name__}.", fix=f"Pass {name} as text.")
        if not self.token_name or not self.token_name.strip():
            raise ConfigError("token_name is empty.", fix="Give the token a name, e.g. token_name='github'.")
        self.token_name = self.token_name.strip()
        self.client_authentication = _choice("client_authentication", self.client_authentication, CLIENT_AUTH_METHODS,
                                             aliases=CLIENT_AUTH_ALIASES)
        self.code_challenge_method = _choice("code_challenge_method", self.code_challenge_method, ("S256", "plain"),
                                             aliases={"s256": "S256", "sha-256": "S256", "sha256": "S256",
                                                      "PLAIN": "plain"})
        self.add_token_to = _choice("add_token_to", self.add_token_to, ("header", "url"),
                                    aliases={"queryParams": "url", "query": "url", "queryparams": "url"})
        self.use_token_type = _choice("use_token_type", self.use_token_type, ("access_token", "id_token"))
        for name in PARAM_FIELDS:
            setattr(self, name, normalise_params(name, getattr(self, name)))
        self.audience = _string_list("audience", self.audience)
        self.resource = _string_list("resource", self.resource)
        for name in ("auto_refresh", "share", "allow_insecure_http", "validate_id_token"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False.", fix=f"Pass {name}=True or {name}=False.")
        if self.authorize_using_browser is not None and not isinstance(self.authorize_using_browser, bool):
            raise ConfigError("authorize_using_browser must be True, False or None.", fix="Pass True or False.")
        for name in ("refresh_leeway", "callback_timeout"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise ConfigError(f"{name} must be a number of seconds ≥ 0.", fix=f"Pass e.g. {name}=60.")
        _modern.normalise(self)
        self._check_static()

    # -- checks -----------------------------------------------------------------------------------

    def _check_static(self) -> None:
        """Checks that need no placeholder filled and no network."""
        if self.code_verifier is not None and not placeholders.has_placeholder(self.code_verifier):
            check_code_verifier(self.code_verifier)
        for name in URL_FIELDS:
            value = getattr(self, name)
            if value is not None and not placeholders.has_placeholder(value):
                check_url(name, value, allow_http=self.allow_insecure_http)
        if self.callback_url is not None and not placeholders.has_placeholder(self.callback_url):
            check_callback_url(self.callback_url)

    def check_complete(self) -> None:
        """Checks that the grant has every field it needs (after placeholders and discovery)."""
        grant = self.grant_type
        missing: list[str] = []
        if grant in REDIRECT_GRANTS and not self.auth_url:
            missing.append("auth_url")
        if grant not in ("implicit", "token_exchange") and not self.access_token_url:
            missing.append("access_token_url")
        if grant == "device_code" and not self.device_authorization_url:
            missing.append("device_authorization_url")
        if grant in ("authorization_code", "authorization_code_with_pkce", "implicit", "device_code",
                     "client_credentials") and not self.client_id:
            missing.append("client_id")
        if grant == "client_credentials" and not self.client_secret and self.client_authentication != "private_key_jwt":
            missing.append("client_secret")
        missing += [name for name in _modern.missing_fields(self) if name not in missing]
        if grant == "password_credentials":
            missing += [name for name in ("username", "password") if not getattr(self, name)]
        if missing:
            labels = ", ".join(f"{name} ({_label(name)})" for name in missing)
            urls_missing = any(m.endswith("_url") for m in missing)
            hint = " or issuer (OIDC discovery fills the URLs)" if urls_missing and not self.issuer else ""
            found = (f" (the discovery documents of issuer {self.issuer!r} do not list "
                     f"{'it' if len(missing) == 1 else 'them'}; the provider's documentation gives the URL)"
                     if urls_missing and self.issuer else "")
            raise ConfigError(
                f"The {grant} grant needs {labels}, which {'is' if len(missing) == 1 else 'are'} not set{found}.",
                fix=f"Set {', '.join(missing)}{hint}.",
            )
        self._check_static()

    # -- use-time views ---------------------------------------------------------------------------

    def with_placeholders_filled(self, extra: Mapping[str, Any] | None = None) -> OAuth2Config:
        """A copy with every ``{{NAME}}`` filled; an unknown name is a :class:`ConfigError`."""
        changes: dict[str, Any] = {}
        for name, value in vars(self).items():  # the fields, read at once: this runs for every token request
            if isinstance(value, str):
                if "{{" in value and placeholders.has_placeholder(value):
                    changes[name] = placeholders.fill(value, extra, where=name)
            elif name in PARAM_FIELDS and value:
                changes[name] = [
                    (placeholders.fill(k, extra, where=name), placeholders.fill(v, extra, where=name), s)
                    for k, v, s in value
                ]
            elif name in ("audience", "resource") and value:
                changes[name] = [placeholders.fill(v, extra, where=name) for v in value]
        if not changes:
            return self
        fields = self.__dataclass_fields__
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if k in fields})

    @property
    def effective_refresh_token_url(self) -> str | None:
        return self.refresh_token_url or self.access_token_url

    @property
    def scopes(self) -> list[str]:
        return (self.scope or "").split()

    @property
    def uses_pkce(self) -> bool:
        return self.grant_type == "authorization_code_with_pkce"

    def copy(self, **changes: Any) -> OAuth2Config:
        return dataclasses.replace(self, **changes)

    def to_dict(self, *, include_secrets: bool = False) -> dict[str, Any]:
        """Plain data; secrets are left out unless asked for (never for display)."""
        data = dataclasses.asdict(self)
        if not include_secrets:
            for name in SECRET_FIELDS:
                if data.get(name) and not placeholders.has_placeholder(data[name]):
                    data[name] = None
        return data

    def __repr__(self) -> str:
        shown = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            if value == default and f.name != "token_name":
                continue
            if f.name in SECRET_FIELDS and value and not placeholders.has_placeholder(value):
                value = "•••"
            shown.append(f"{f.name}={value!r}")
        return f"OAuth2Config({', '.join(shown)})"


# -- helpers ----------------------------------------------------------------------------------------


def _label(name: str) -> str:
    for f in dataclasses.fields(OAuth2Config):
        if f.name == name:
            return str(f.metadata.get("label", name))
    return name


def field_labels() -> dict[str, str]:
    """Field name → Postman label, in form order."""
    return {f.name: f.metadata.get("label", f.name) for f in dataclasses.fields(OAuth2Config)}

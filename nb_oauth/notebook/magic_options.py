"""Options of ``%oauth_token``, generated from :class:`~nb_oauth.config.OAuth2Config`'s fields.

A new config field is a new option with no other change: kebab-case name, ``--x/--no-x`` for
booleans, repeatable lists, and ``KEY=VALUE[:body|url|header]`` for custom parameters.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable
from typing import Any

from IPython.core.magic_arguments import argument, argument_group

from ..config import (
    GRANT_TYPES,
    PARAM_FIELDS,
    SEND_AS,
    SEND_AS_ALIASES,
    OAuth2Config,
)
from ..errors import ConfigError

# -- options generated from the config fields ---------------------------------------------------------

#: Values a choice field accepts, shown in the help.
CHOICES: dict[str, tuple[str, ...]] = {
    "grant_type": GRANT_TYPES,
    "client_authentication": ("header", "body", "private_key_jwt", "client_secret_jwt"),
    "client_assertion_alg": ("RS256", "PS256", "ES256", "EdDSA", "HS256"),
    "dpop_alg": ("ES256", "PS256", "RS256", "EdDSA"),
    "security_profile": ("fapi2",),
    "code_challenge_method": ("S256", "plain"),
    "add_token_to": ("header", "url"),
    "use_token_type": ("access_token", "id_token"),
}
#: A word on fields whose label alone does not say enough.
HINTS: dict[str, str] = {
    "callback_url": "default: a kernel-local listener on a free port",
    "authorize_using_browser": "also open the login page with the system browser (BROWSER is honoured)",
    "issuer": "OIDC discovery fills the URLs left empty",
    "scope": "space-separated; quote it: --scope 'openid email'",
    "state": "default: a fresh random value",
    "code_verifier": "default: generated",
    "refresh_token_url": "default: the Access Token URL",
    "share": "share the token with other kernels of this user",
    "allow_insecure_http": "allow plain http to a non-loopback host, for this config only",
    "callback_timeout": "seconds to wait for the login (default NB_OAUTH_CALLBACK_TIMEOUT or 300)",
    "grant_type": "how the token is obtained: a login in the browser (authorization_code*, implicit), a code "
                  "typed on another device (device_code), the app's own credentials or a username and password",
    "auth_url": "the provider's authorization endpoint, opened in the browser for the login",
    "access_token_url": "the provider's token endpoint, where the code, credentials or refresh token are exchanged",
    "device_authorization_url": "the endpoint that hands out the device flow's user code",
    "revocation_url": "RFC 7009 endpoint used by --revoke",
    "introspection_url": "RFC 7662 endpoint, to ask the provider whether a token is still active",
    "userinfo_url": "OIDC endpoint that returns the signed-in user's profile",
    "jwks_url": "the provider's public keys, used to check the ID token's signature",
    "client_id": "the application's identifier, as registered at the provider",
    "client_secret": "the confidential client's password, as registered at the provider",
    "client_authentication": "header sends the client ID and secret as HTTP Basic, body as form fields",
    "code_challenge_method": "how the PKCE verifier is turned into the challenge (S256 hashes it)",
    "username": "the resource owner's login, for the password grant",
    "password": "the resource owner's password, for the password grant",
    "auth_request_params": "extra parameters of the authorization request",
    "token_request_params": "extra parameters of the token request",
    "refresh_request_params": "extra parameters of the refresh request",
    "audience": "the API the token is meant for (sent as audience=, as Auth0 and others expect)",
    "resource": "RFC 8707 resource indicator: the API's URL the token is meant for",
    "add_token_to": "header puts the token in Authorization, url adds ?access_token=",
    "header_prefix": "the word before the token in the Authorization header",
    "auto_refresh": "refresh shortly before expiry and after a 401; --no-auto-refresh makes expiry an error",
    "use_token_type": "which token is sent to the API",
    "refresh_leeway": "refresh this many seconds before expiry (at most a fifth of the lifetime)",
    "validate_id_token": "check the ID token's signature, issuer, audience, expiry and nonce",
    "nonce": "default: a fresh random value for openid scopes, checked in the ID token",
    "client_assertion_key": "the client's private key for private_key_jwt and signed request objects: a path to a "
                            "PEM or JWK file, or {{VAR}} holding PEM or JWK text",
    "client_assertion_alg": "default: chosen from the key (PS256 for RSA under fapi2, else RS256; ES256; EdDSA)",
    "dpop": "sender-constrained token (RFC 9449): a key pair per token, a signed proof on every request",
    "use_par": "pushed authorization request (RFC 9126); default: when the provider requires it",
    "par_url": "default: the provider's pushed_authorization_request_endpoint",
    "request_object": "send the authorization request as a signed JWT (RFC 9101), signed with the client key",
    "security_profile": "fapi2: apply and check every client rule of the FAPI 2.0 Security Profile",
    "subject_token": "token_exchange: the token to exchange, usually {{VAR}}",
    "subject_token_name": "token_exchange: a stored token whose current access token is exchanged",
    "client_assertion_kid": "the kid put in the assertion's header; default: the JWK's own kid",
    "actor_token_type": "token_exchange: the actor token's type URN (default: an access token)",
    "requested_token_type": "token_exchange: the kind of token to ask for, as a token type URN",
}
PARAM_SYNTAX = "KEY=VALUE[:body|url|header]"


def for_magic(message: str) -> str:
    """A message's Python spelling of an option (``allow_insecure_http=True``) in the magic's (``--allow-insecure-http``)."""
    import re

    fields = {f.name for f in dataclasses.fields(OAuth2Config)}

    def flag(m: re.Match[str]) -> str:
        name, value = m.group(1), m.group(2)
        if name not in fields:
            return m.group(0)
        option = name.replace("_", "-")
        return f"--{option}" if value == "True" else f"--no-{option}"

    return re.sub(r"\b([a-z_]+)=(True|False)\b", flag, message)
SKIPPED_FIELDS = ("token_name",)  # the positional NAME


@dataclasses.dataclass(frozen=True)
class ConfigOption:
    """One ``%oauth_token`` option made from one ``OAuth2Config`` field."""

    field: str
    kind: str  # text | number | flag | list | params
    flags: tuple[str, ...]
    help: str
    metavar: str | None = None

    def argparse_kwargs(self) -> dict[str, Any]:
        base: dict[str, Any] = {"dest": self.field, "default": None, "help": self.help}
        if self.kind == "flag":
            return base | {"action": argparse.BooleanOptionalAction}
        if self.kind in ("list", "params"):
            return base | {"action": "append", "metavar": self.metavar}
        if self.kind == "number":
            return base | {"type": float, "metavar": self.metavar}
        return base | {"metavar": self.metavar}


def _kind(field_type: Any, name: str) -> str:
    if name in PARAM_FIELDS:
        return "params"
    args = set(typing.get_args(field_type)) - {type(None)} or {field_type}
    if typing.get_origin(field_type) is list:
        return "list"
    if args == {bool}:
        return "flag"
    if args <= {float, int}:
        return "number"
    return "text"


def _help(f: dataclasses.Field[Any], kind: str) -> str:
    label = f.metadata.get("label", f.name)
    parts = [label]
    if f.name in CHOICES:
        parts.append("one of " + ", ".join(CHOICES[f.name]))
    if f.name in HINTS:
        parts.append(HINTS[f.name])
    if f.metadata.get("secret"):
        parts.append("secret: prefer {{VARIABLE}} so the notebook never holds it")
    if kind == "params":
        parts.append(f"repeatable; {PARAM_SYNTAX}, sent in the body unless :url or :header is given")
    elif kind == "list":
        parts.append("repeatable")
    default = f.default if f.default is not dataclasses.MISSING else None
    if kind != "params" and default not in (None, "") and f.name not in ("authorize_using_browser",):
        parts.append(f"default {default}")
    return "; ".join(parts) + "."


def _metavar(name: str, kind: str) -> str | None:
    if kind == "params":
        return "KEY=VALUE"
    if kind == "number":
        return "SECONDS"
    if name.endswith("_url") or name == "issuer":
        return "URL"
    if kind == "list":
        return "VALUE"
    return name.upper() if name in CHOICES else "TEXT"


def config_options() -> list[ConfigOption]:
    """Every ``OAuth2Config`` field but the token name, as an option (kebab-case; booleans get ``--no-``)."""
    hints = typing.get_type_hints(OAuth2Config)
    options = []
    for f in dataclasses.fields(OAuth2Config):
        if f.name in SKIPPED_FIELDS:
            continue
        kind = _kind(hints[f.name], f.name)
        flag = "--" + f.name.replace("_", "-")
        flags = (flag, flag.removesuffix("s")) if kind == "params" else (flag,)
        metavar = None if kind == "flag" else _metavar(f.name, kind)
        options.append(ConfigOption(f.name, kind, flags, _help(f, kind), metavar))
    return options


CONFIG_OPTIONS = config_options()


def with_config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Apply one ``@argument`` per config field (in field order) under a help group."""
    for option in reversed(CONFIG_OPTIONS):
        func = argument(*option.flags, **option.argparse_kwargs())(func)
    return argument_group("Configuration (every OAuth2Config field; {{NAME}} is filled from notebook "
                          "variables or the environment at use time)")(func)


def parse_param(text: str, option: str) -> tuple[str, str, str]:
    """``KEY=VALUE[:body|url|header]`` → ``(key, value, send_as)``; only a known suffix is taken as the place."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--{option} {text!r} is not {PARAM_SYNTAX}.",
                          fix=f"Write e.g. --{option} audience=https://api.example:body")
    send_as = "body"
    head, colon, tail = value.rpartition(":")
    if colon and (tail in SEND_AS or tail in SEND_AS_ALIASES):
        value, send_as = head, SEND_AS_ALIASES.get(tail, tail)
    return key.strip(), value, send_as


def config_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The config fields given on the line, converted to what ``OAuth2Config`` takes."""
    changes: dict[str, Any] = {}
    for option in CONFIG_OPTIONS:
        value = getattr(args, option.field, None)
        if value is None:
            continue
        if option.kind == "params":
            value = [parse_param(v, option.flags[0][2:]) for v in value]
        changes[option.field] = value
    return changes

"""The vocabulary of a config (grants, where parameters go) and the checks that need no network.

Pure functions: they look at values only, never at the environment.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import typing
from collections.abc import Iterable, Mapping
from typing import Literal
from urllib.parse import urlsplit

from ..errors import ConfigError

GrantType = Literal[
    "authorization_code",
    "authorization_code_with_pkce",
    "implicit",
    "password_credentials",
    "client_credentials",
    "device_code",
    "token_exchange",
]
GRANT_TYPES: tuple[str, ...] = typing.get_args(GrantType)
#: Other spellings users (and other tools) use for the same grants.
GRANT_ALIASES: dict[str, str] = {
    "code": "authorization_code",
    "pkce": "authorization_code_with_pkce",
    "authorization_code_pkce": "authorization_code_with_pkce",
    "password": "password_credentials",
    "device": "device_code",
    "urn:ietf:params:oauth:grant-type:device_code": "device_code",
    "token": "implicit",
    "urn:ietf:params:oauth:grant-type:token-exchange": "token_exchange",
}
REDIRECT_GRANTS = frozenset({"authorization_code", "authorization_code_with_pkce", "implicit"})
SEND_AS = ("body", "url", "header")
SEND_AS_ALIASES = {"request_body": "body", "request_url": "url", "request_header": "header", "query": "url"}
RFC7636_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
URL_FIELDS = (
    "auth_url",
    "access_token_url",
    "refresh_token_url",
    "device_authorization_url",
    "revocation_url",
    "introspection_url",
    "userinfo_url",
    "jwks_url",
    "issuer",
    "par_url",
)
PARAM_FIELDS = ("auth_request_params", "token_request_params", "refresh_request_params")
SECRET_FIELDS = ("client_secret", "password", "code_verifier", "client_assertion_key", "subject_token", "actor_token")

CustomParam = tuple[str, str, str]


def normalise_grant_type(value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"grant_type must be a string, not {type(value).__name__}.",
                          fix=f"Use one of: {', '.join(GRANT_TYPES)}.")
    key = value.strip()
    key = GRANT_ALIASES.get(key, GRANT_ALIASES.get(key.lower(), key.lower().replace("-", "_").replace(" ", "_")))
    if key in GRANT_TYPES:
        return key
    import difflib  # only for the error's suggestion

    close = difflib.get_close_matches(key, GRANT_TYPES, n=1)
    suggestion = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"grant_type {value!r} is not a grant nb_oauth knows.{suggestion}",
                      fix=f"Use one of: {', '.join(GRANT_TYPES)}.")


def _choice(name: str, value: object, allowed: tuple[str, ...], aliases: Mapping[str, str] | None = None) -> str:
    if isinstance(value, str):
        text = value.strip()
        text = (aliases or {}).get(text, text)
        for option in allowed:
            if text.lower() == option.lower():
                return option
    raise ConfigError(f"{name} is {value!r}, which is not one of {', '.join(allowed)}.",
                      fix=f"Set {name} to one of: {', '.join(allowed)}.")


def normalise_params(name: str, value: object) -> list[CustomParam]:
    """Custom parameters as ``(key, value, send_as)``; dicts (Postman's shape) and pairs are accepted."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        value = list(value.items())
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigError(f"{name} must be a list of (key, value, send_as).",
                          fix=f"Pass e.g. {name}=[('audience', 'https://api', 'body')].")
    out: list[CustomParam] = []
    for item in value:
        if isinstance(item, Mapping):
            if item.get("disabled") is True or item.get("enabled") is False:
                continue
            key, val, send_as = item.get("key"), item.get("value", ""), item.get("send_as", item.get("sendAs", "body"))
        elif isinstance(item, list | tuple) and len(item) in (2, 3):
            key, val, send_as = item[0], item[1], item[2] if len(item) == 3 else "body"
        else:
            raise ConfigError(f"{name} has an entry {item!r} that is not (key, value, send_as).",
                              fix="Each entry is a (key, value, send_as) tuple with send_as body, url or header.")
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"{name} has an entry with an empty key.", fix="Give every custom parameter a key.")
        if val is None:
            val = ""
        if isinstance(val, bool) or not isinstance(val, str | int | float):
            raise ConfigError(f"{name}[{key!r}] must be text.", fix="Pass the value as a string.")
        send_as = SEND_AS_ALIASES.get(str(send_as), send_as)
        send_as = _choice(f"{name}[{key!r}] send_as", send_as, SEND_AS)
        if send_as == "header" and any(c in f"{key}{val}" for c in "\r\n"):
            raise ConfigError(f"{name}[{key!r}] contains a line break, which a header cannot carry.",
                              fix="Remove the line break from the key and value.")
        out.append((key.strip(), str(val), send_as))
    return out


def _string_list(name: str, value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.split() if v]
    if isinstance(value, Iterable):
        items = list(value)
        if all(isinstance(v, str) for v in items):
            return [v for v in items if v]
    raise ConfigError(f"{name} must be a list of strings.", fix=f"Pass e.g. {name}=['https://api.example'].")


def check_code_verifier(verifier: str) -> None:
    if not RFC7636_VERIFIER.match(verifier):
        bad = sorted({c for c in verifier if not re.match(r"[A-Za-z0-9\-._~]", c)})
        why = (f"it has {len(verifier)} characters" if not 43 <= len(verifier) <= 128
               else f"it contains characters outside the RFC 7636 alphabet: {''.join(bad)!r}")
        raise ConfigError(
            f"code_verifier is not valid: {why}.",
            fix="Use 43–128 characters of A–Z, a–z, 0–9 and - . _ ~, or leave Code Verifier empty to generate one.",
        )


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=256)  # a pure check run on every token request; failures are not cached
def check_url(name: str, url: str, *, allow_http: bool = False) -> None:
    """An endpoint URL must be absolute https; plain http only on loopback or with the per-config opt-in."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ConfigError(f"{name} {url!r} is not a valid URL ({exc}).", fix=f"Check {name}.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} {url!r} is not an absolute http(s) URL.",
                          fix=f"Write {name} in full, e.g. https://idp.example/oauth/token.")
    if any(c.isspace() for c in url):
        raise ConfigError(f"{name} {url!r} contains white space.", fix=f"Remove the spaces from {name}.")
    if parts.scheme == "http" and not allow_http and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"{name} uses plain http to {parts.hostname}, which would send secrets unencrypted.",
            fix="Use https, or opt in for this config alone with allow_insecure_http=True.",
        )


def check_callback_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018
    except ValueError as exc:
        raise ConfigError(f"callback_url {url!r} is not a valid URL ({exc}).", fix="Check callback_url.") from None
    if not parts.scheme or (parts.scheme in ("http", "https") and not parts.hostname):
        raise ConfigError(f"callback_url {url!r} is not an absolute URL.",
                          fix="Leave Callback URL empty for a kernel-local listener, or write it in full.")

"""How one Postman ``oauth2`` auth block maps onto :class:`~nb_oauth.config.OAuth2Config`.

Kept apart from :mod:`nb_oauth.importers.postman` (which walks the collection, its inheritance and
its variables) so the key/value tables and value conversions can be read and changed on their own.
Findings go to the caller's ``report`` list and name keys, never their values.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from ..config import GRANT_TYPES, SECRET_FIELDS, OAuth2Config, normalise_grant_type
from ..errors import ConfigError, redact

#: Callback hosts that only reach the Postman app; a flow from a notebook can never receive them.
POSTMAN_CALLBACK_HOSTS = ("oauth.pstmn.io", "www.getpostman.com", "getpostman.com", "oauth.getpostman.com")

#: Postman key → config field, for keys whose value is plain text.
_TEXT_KEYS: dict[str, str] = {
    "authUrl": "auth_url",
    "accessTokenUrl": "access_token_url",
    "refreshTokenUrl": "refresh_token_url",
    "clientId": "client_id",
    "clientSecret": "client_secret",
    "redirect_uri": "callback_url",
    "scope": "scope",
    "state": "state",
    "headerPrefix": "header_prefix",
    "code_verifier": "code_verifier",
    "username": "username",
    "password": "password",
}

#: Older spellings (collection v1 and early v2.0 exports) → the current key.
_KEY_ALIASES: dict[str, str] = {
    "callBackUrl": "redirect_uri",
    "callbackUrl": "redirect_uri",
    "redirectUri": "redirect_uri",
    "grantType": "grant_type",
    "clientAuth": "client_authentication",
    "codeVerifier": "code_verifier",
}

_PARAM_KEYS = {"authRequestParams": "auth_request_params", "tokenRequestParams": "token_request_params",
               "refreshRequestParams": "refresh_request_params"}
_SEND_AS = {"request_body": "body", "request_url": "url", "request_header": "header",
            "body": "body", "url": "url", "header": "header"}
_ADD_TOKEN_TO = {"header": "header", "queryParams": "url"}
_CLIENT_AUTH = {"header": "header", "body": "body"}
_CHALLENGE = {"S256": "S256", "plain": "plain", "SHA-256": "S256", "sha256": "S256"}
_USE_TOKEN_TYPE = {"access_token": "access_token", "id_token": "id_token"}

#: Keys holding a token Postman obtained earlier: never imported (nb_oauth gets its own).
_STORED_TOKEN_KEYS = {"accessToken", "access_token", "refreshToken", "refresh_token", "id_token", "idToken"}

# -- one auth block ---------------------------------------------------------------------------------


def _scalar_text(value: Any) -> str | None:
    """A variable or parameter value as text (booleans as Postman writes them); None for other shapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _auth_attributes(auth: Mapping[str, Any], where: str, report: list[str]) -> dict[str, Any]:
    """The ``oauth2`` attributes as key → value, from v2.1's list or v2.0's object."""
    raw = auth.get("oauth2")
    if raw is None:
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, list):
        out: dict[str, Any] = {}
        for item in raw:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str):
                out[item["key"]] = item.get("value")
            else:
                report.append(f"{where}: an oauth2 attribute without a key was skipped")
        return out
    report.append(f"{where}: the oauth2 attributes are a {type(raw).__name__}, not a list or object; "
                  "the block was read as empty")
    return {}


def _text(value: Any) -> str | None:
    """Text for an optional field: numbers become text, empty strings and other shapes become None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _custom_params(key: str, value: Any, where: str, report: list[str]) -> list[tuple[str, str, str]]:
    if value in (None, "", []):
        return []
    if not isinstance(value, list):
        report.append(f"{where}: key {key!r} not mapped (expected a list of parameters, got {type(value).__name__})")
        return []
    out = []
    for i, item in enumerate(value, 1):
        if not isinstance(item, Mapping):
            report.append(f"{where}: {key} entry {i} skipped (not a key/value object)")
            continue
        if item.get("enabled") is False or item.get("disabled") is True:
            continue
        name = _text(item.get("key"))
        if not name:
            report.append(f"{where}: {key} entry {i} skipped (empty key)")
            continue
        send_as = _SEND_AS.get(str(item.get("send_as", item.get("sendAs", "request_body"))))
        if send_as is None:
            report.append(f"{where}: {key} parameter {name!r} skipped (send_as {item.get('send_as')!r} "
                          "is not request_body, request_url or request_header)")
            continue
        val = item.get("value")
        text = "" if val is None else _scalar_text(val)
        if text is None:
            report.append(f"{where}: {key} parameter {name!r} skipped (its value is not text)")
            continue
        out.append((name, text, send_as))
    return out


def _uri_list(key: str, value: Any, where: str, report: list[str]) -> list[str]:
    """Audience/resource in the shapes Postman versions stored: text, list, {id: uri} or [{key, value}]."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [v for v in re.split(r"[\s,]+", value) if v]
    if isinstance(value, Mapping):
        if "value" in value:
            return _uri_list(key, value["value"], where, report)
        return [u for v in value.values() for u in _uri_list(key, v, where, report)]
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            if isinstance(item, Mapping) and (item.get("enabled") is False or item.get("disabled") is True):
                continue
            out += _uri_list(key, item, where, report)
        return out
    report.append(f"{where}: key {key!r} not mapped (a {type(value).__name__}, not a URI or list of URIs)")
    return []


def _is_postman_callback(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return host in POSTMAN_CALLBACK_HOSTS


def _generic_field(key: str) -> dataclasses.Field[Any] | None:
    """The config field a key names once case and separators are ignored (``autoRefresh`` → ``auto_refresh``)."""
    wanted = re.sub(r"[^a-z0-9]", "", key.lower())
    for f in dataclasses.fields(OAuth2Config):
        if f.name.replace("_", "") == wanted:
            return f
    return None


#: Settings that weaken a check: a shared collection must not switch them for the user.
_USER_ONLY_FIELDS = frozenset({"allow_insecure_http", "validate_id_token"})


def _map_generic(key: str, value: Any, where: str, report: list[str], kwargs: dict[str, Any]) -> bool:
    f = _generic_field(key)
    if f is None or f.name in kwargs:
        return False
    if f.name in _USER_ONLY_FIELDS:
        report.append(f"{where}: key {key!r} not mapped (it relaxes a security check, so only the notebook "
                      f"may set {f.name}, per config)")
        return True
    default = f.default if f.default is not dataclasses.MISSING else None
    if isinstance(default, bool) or f.name == "authorize_using_browser":
        flag = _flag(value)
        if flag is None:
            report.append(f"{where}: key {key!r} not mapped (expected true or false)")
        else:
            kwargs[f.name] = flag
        return True
    if isinstance(default, str) or "str" in str(f.type):
        text = _text(value)
        if text is not None:
            kwargs[f.name] = text
        return True
    return False


def _map_choice(key: str, value: Any, table: Mapping[str, str], field: str, where: str,
                report: list[str], kwargs: dict[str, Any]) -> None:
    text = _text(value)
    if text is None:
        return
    if text in table:
        kwargs[field] = table[text]
    else:
        allowed = ", ".join(repr(k) for k in table)
        report.append(f"{where}: key {key!r} not mapped (value {text!r} is not one of {allowed}; "
                      f"{field} keeps its default)")


def _map_attributes(attrs: Mapping[str, Any], where: str, report: list[str]) -> tuple[dict[str, Any], str | None]:
    """Config keyword arguments and Postman's ``tokenName`` from one block's (filled) attributes."""
    kwargs: dict[str, Any] = {}
    token_name: str | None = None
    for raw_key, value in attrs.items():
        key = _KEY_ALIASES.get(raw_key, raw_key)
        if key in _TEXT_KEYS:
            text = _text(value)
            if text is None and value not in (None, "") and not isinstance(value, str):
                report.append(f"{where}: key {raw_key!r} not mapped (expected text, got {type(value).__name__})")
            elif text is not None:
                kwargs[_TEXT_KEYS[key]] = text
        elif key == "grant_type":
            kwargs["grant_type"] = value
        elif key == "tokenName":
            token_name = _text(value)
        elif key == "addTokenTo":
            _map_choice(raw_key, value, _ADD_TOKEN_TO, "add_token_to", where, report, kwargs)
        elif key == "client_authentication":
            _map_choice(raw_key, value, _CLIENT_AUTH, "client_authentication", where, report, kwargs)
        elif key == "challengeAlgorithm":
            _map_choice(raw_key, value, _CHALLENGE, "code_challenge_method", where, report, kwargs)
        elif key == "useBrowser":
            flag = _flag(value)
            if flag is None and value not in (None, ""):
                report.append(f"{where}: key {raw_key!r} not mapped (expected true or false)")
            elif flag:
                kwargs["authorize_using_browser"] = True
            # False means Postman's own pop-up window; nb_oauth's nearest is its default (None).
        elif key in _PARAM_KEYS:
            kwargs[_PARAM_KEYS[key]] = _custom_params(raw_key, value, where, report)
        elif key in ("audience", "resource"):
            kwargs[key] = _uri_list(raw_key, value, where, report)
        elif key == "tokenType":
            text = _text(value)
            if text in _USE_TOKEN_TYPE:
                kwargs["use_token_type"] = _USE_TOKEN_TYPE[text]
            elif text is not None:
                report.append(f"{where}: key 'tokenType' not mapped (the type of a token Postman stored; "
                              "nb_oauth reads it from each token response)")
        elif key in _STORED_TOKEN_KEYS:
            if value not in (None, ""):
                report.append(f"{where}: key {raw_key!r} not mapped (a token Postman obtained earlier; "
                              "nb_oauth gets its own, so it is not imported)")
        elif not _map_generic(raw_key, value, where, report, kwargs):
            report.append(f"{where}: key {raw_key!r} not mapped (nb_oauth has no equivalent setting)")
    return kwargs, token_name


def _drop_postman_callback(kwargs: dict[str, Any], where: str, report: list[str]) -> None:
    url = kwargs.get("callback_url")
    if url and _is_postman_callback(url):
        del kwargs["callback_url"]
        report.append(f"{where}: redirect_uri {url} only reaches the Postman app, so Callback URL was left empty "
                      "(nb_oauth's kernel-local listener, http://127.0.0.1:<port>/callback); register that "
                      "callback with the provider, or set callback_url to a fixed loopback URL")


def _build(kwargs: dict[str, Any], where: str, report: list[str]) -> OAuth2Config | None:
    """The config; a value the config refuses is dropped (and reported), the rest is kept."""
    secrets = [kwargs.get(name) for name in SECRET_FIELDS]
    try:
        return OAuth2Config(**kwargs)
    except ConfigError:
        pass
    base = {"token_name": kwargs["token_name"], "grant_type": kwargs["grant_type"]}
    for name in [n for n in kwargs if n not in base]:
        try:
            OAuth2Config(**base, **{name: kwargs[name]})
        except ConfigError as exc:
            del kwargs[name]
            report.append(f"{where}: {name} was not imported: {redact(str(exc), secrets)}")
    try:
        return OAuth2Config(**kwargs)
    except ConfigError as exc:
        report.append(f"{where}: the OAuth 2.0 settings were not imported: {redact(str(exc), secrets)}")
        return None


def _check_grant(kwargs: dict[str, Any], where: str, report: list[str]) -> bool:
    grant = kwargs.get("grant_type")
    if grant is None or grant == "":
        kwargs["grant_type"] = "authorization_code"  # Postman's default grant
        return True
    try:
        kwargs["grant_type"] = normalise_grant_type(grant)
        return True
    except ConfigError:
        shown = grant if isinstance(grant, str) else type(grant).__name__
        report.append(f"{where}: key 'grant_type' not mapped (value {shown!r} is not one of "
                      f"{', '.join(GRANT_TYPES)}); this OAuth 2.0 block was not imported")
        return False

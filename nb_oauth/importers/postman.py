"""Importing the OAuth 2.0 settings of a Postman collection export (v2.0 and v2.1).

Every ``auth`` block of type ``oauth2`` — collection, folder or request level — becomes one
:class:`~nb_oauth.config.OAuth2Config`, keyed by its token name (Postman's ``tokenName``, else the
name of the collection, folder or request that holds the block).  When two blocks end up with the
same name, the later one (in the collection's order: collection, then folders and requests depth
first) is keyed ``"Name (2)"``, ``"Name (3)"``…, and its ``token_name`` is changed to match so the
token store uses the same key.

Inheritance works as in Postman: a folder or request without ``auth`` (or with ``type: inherit``)
uses its parent's auth; ``noauth`` (or any other auth type) stops it.  Which config each request
ends up using is in :attr:`PostmanImport.request_auth`.

``{{vars}}`` are filled at import from the collection's ``variable`` list, overridden by an optional
Postman environment export.  Variables left unfilled stay ``{{var}}`` and are filled at use time
from the notebook or the process environment.

Nothing is silently dropped: every key that could not be mapped, every value that was refused and
every variable left unfilled is listed in :attr:`PostmanImport.report` (also kept in
:data:`last_import_report`).  The report names keys and variables, never their values, so it is
safe to print even when the collection holds secrets.

This module reads the files and walks the collection; how one auth block's keys map onto config
fields is in :mod:`._postman_mapping`.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..config import OAuth2Config, placeholders
from ..errors import ConfigError
from ._postman_findings import config_findings
from ._postman_mapping import (  # noqa: F401  (re-exported: the mapping tables used to live here)
    _ADD_TOKEN_TO,
    _CHALLENGE,
    _CLIENT_AUTH,
    _KEY_ALIASES,
    _PARAM_KEYS,
    _SEND_AS,
    _STORED_TOKEN_KEYS,
    _TEXT_KEYS,
    _USE_TOKEN_TYPE,
    _USER_ONLY_FIELDS,
    POSTMAN_CALLBACK_HOSTS,
    _auth_attributes,
    _build,
    _check_grant,
    _custom_params,
    _drop_postman_callback,
    _flag,
    _generic_field,
    _is_postman_callback,
    _map_attributes,
    _map_choice,
    _map_generic,
    _scalar_text,
    _text,
    _uri_list,
)
from ._postman_vars import MAX_NESTING, Filler, too_deep

__all__ = ["POSTMAN_CALLBACK_HOSTS", "PostmanImport", "from_postman", "last_import_report"]

#: The report of the most recent :func:`from_postman` call (a list of one-line findings).
last_import_report: list[str] = []

_SCHEMA_VERSION = re.compile(r"/v(\d+)\.(\d+)\.(\d+)/")


class PostmanImport(dict[str, OAuth2Config]):
    """The configs of one collection (a plain ``dict``) plus what the import could not map.

    ``report``: one line per finding (no values, so no secrets).  ``request_auth``: each request's
    path → the token name it uses (``None`` for no OAuth 2.0 auth).  ``source``: the file read.
    """

    def __init__(self, configs: Mapping[str, OAuth2Config] | None = None, *, source: str = "",
                 report: list[str] | None = None, request_auth: dict[str, str | None] | None = None) -> None:
        super().__init__(configs or {})
        self.source = source
        self.report: list[str] = list(report or [])
        self.request_auth: dict[str, str | None] = dict(request_auth or {})

    @property
    def used_by(self) -> dict[str, list[str]]:
        """Token name → the requests that use it (through their own auth or inheritance)."""
        out: dict[str, list[str]] = {name: [] for name in self}
        for request, name in self.request_auth.items():
            if name is not None:
                out.setdefault(name, []).append(request)
        return out

    def _summary(self, name: str, cfg: OAuth2Config) -> str:
        url = cfg.auth_url if cfg.grant_type == "implicit" else cfg.access_token_url
        return f"{name!r}: {cfg.grant_type}" + (f", {url}" if url else "")

    def __repr__(self) -> str:
        lines = [f"PostmanImport({self.source or 'collection'}: {len(self)} OAuth 2.0 config"
                 f"{'' if len(self) == 1 else 's'})"]
        lines += [f"  {self._summary(name, cfg)}" for name, cfg in self.items()]
        if self.report:
            lines.append("Not imported as is:")
            lines += [f"  - {line}" for line in self.report]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr><td><code>{esc(name)}</code></td><td>{esc(cfg.grant_type)}</td>"
            f"<td>{esc(cfg.access_token_url or '')}</td><td>{esc(cfg.auth_url or '')}</td>"
            f"<td>{esc(', '.join(self.used_by.get(name, [])))}</td></tr>"
            for name, cfg in self.items()
        )
        table = ("<table><tr><th>Token name</th><th>Grant type</th><th>Access Token URL</th><th>Auth URL</th>"
                 f"<th>Used by</th></tr>{rows}</table>")
        report = ""
        if self.report:
            items = "".join(f"<li>{esc(line)}</li>" for line in self.report)
            report = (f"<details open><summary>Not imported as is ({len(self.report)})</summary>"
                      f"<ul>{items}</ul></details>")
        return f"<div><b>Postman import</b> {esc(self.source)}: {len(self)} OAuth 2.0 config(s){table}{report}</div>"


# -- reading ----------------------------------------------------------------------------------------


def _describe(source: Any) -> str:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return "the collection given as a dict"


def _load_json(source: str | os.PathLike[str] | Mapping[str, Any], what: str) -> tuple[Any, str]:
    """The parsed JSON and a name for messages; a mapping is taken as already parsed."""
    if isinstance(source, Mapping):
        return source, _describe(source)
    name = _describe(source)
    try:
        text = Path(source).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"Cannot read the Postman {what} {name!r}: {exc.strerror or exc}.",
                          fix=f"Check the path of the exported {what} file.") from None
    try:
        return json.loads(text), name
    except RecursionError:
        raise too_deep(f"The Postman {what} {name!r}") from None
    except ValueError as exc:
        raise ConfigError(f"The Postman {what} {name!r} is not valid JSON ({exc}).",
                          fix=f"Export the {what} again from Postman (… → Export) and pass that file.") from None


def _collection_root(data: Any, name: str, report: list[str]) -> dict[str, Any]:
    """The collection object, checked to be a v2.0 or v2.1 export."""
    if isinstance(data, Mapping) and isinstance(data.get("collection"), Mapping) and "info" not in data:
        data = data["collection"]  # the Postman API wraps exports as {"collection": {...}}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{name!r} is not a Postman collection (the JSON is a {type(data).__name__}, not an object).",
                          fix="Export the collection from Postman as Collection v2.1 and pass that file.")
    if "values" in data and "info" not in data:
        raise ConfigError(f"{name!r} is a Postman environment export, not a collection.",
                          fix="Pass it as environment=..., and the collection export as the first argument.")
    info = data.get("info")
    if not isinstance(info, Mapping):
        legacy = " (it looks like the old v1 format)" if "requests" in data or "order" in data else ""
        raise ConfigError(f"{name!r} is not a Postman collection v2.0/v2.1 export: it has no 'info' object{legacy}.",
                          fix="Export the collection from Postman as Collection v2.1 and pass that file.")
    schema = info.get("schema")
    if not schema:
        report.append(f"{name}: info.schema is missing; read as a v2.1 collection")
    else:
        match = _SCHEMA_VERSION.search(str(schema))
        if not match or match.group(1) != "2" or match.group(2) not in ("0", "1"):
            raise ConfigError(f"{name!r} uses the collection schema {schema!r}, which nb_oauth does not read.",
                              fix="Export the collection from Postman as Collection v2.1 (or v2.0).")
    if not isinstance(data.get("item", []), list):
        raise ConfigError(f"{name!r} is not a valid Postman collection: 'item' is not a list.",
                          fix="Export the collection from Postman as Collection v2.1 and pass that file.")
    return dict(data)


def _collection_variables(data: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in data.get("variable") or []:
        if not isinstance(item, Mapping) or item.get("disabled") is True:
            continue
        key = item.get("key", item.get("id"))
        value = _scalar_text(item.get("value"))
        if isinstance(key, str) and key and value is not None:
            out[key] = value
    return out


def _environment_variables(environment: Any) -> dict[str, str]:
    """Variables of a Postman environment export (path or parsed), or of a plain name → value mapping."""
    data, name = _load_json(environment, "environment")
    if isinstance(data, Mapping) and "values" not in data and "info" not in data:
        return {str(k): v for k, v in ((k, _scalar_text(v)) for k, v in data.items()) if v is not None}
    if not isinstance(data, Mapping) or not isinstance(data.get("values"), list):
        raise ConfigError(f"{name!r} is not a Postman environment export (no 'values' list).",
                          fix="Export the environment from Postman (Environments → … → Export) and pass that file.")
    out: dict[str, str] = {}
    for item in data["values"]:
        if not isinstance(item, Mapping) or item.get("enabled") is False:
            continue
        key, value = item.get("key"), _scalar_text(item.get("value"))
        if isinstance(key, str) and key and value is not None:
            out[key] = value
    return out


# -- variables --------------------------------------------------------------------------------------


def _unfilled_findings(where: str, names: Iterable[str]) -> list[str]:
    out = []
    for name in sorted(names):
        if name.strip().startswith("$"):
            out.append(f"{where}: {{{{{name}}}}} is a Postman dynamic variable, which nb_oauth does not generate; "
                       "replace it with a value")
        elif placeholders.PLACEHOLDER.fullmatch("{{" + name + "}}"):
            continue  # listed with the host it will be sent to, once the config is built (config_findings)
        else:
            out.append(f"{where}: {{{{{name}}}}} is not set, and its name cannot be filled at use time "
                       "(use letters, digits, _ . -); rename the variable or set it in the environment export")
    return out


# -- the walk ---------------------------------------------------------------------------------------


class _Importer:
    """Walks a collection, turning every oauth2 block into a config and tracking inheritance."""

    _NONE = object()

    def __init__(self, filler: Filler, report: list[str]) -> None:
        self.filler = filler
        self.report = report
        self.configs: dict[str, OAuth2Config] = {}
        self.request_auth: dict[str, str | None] = {}

    def block(self, auth: Mapping[str, Any], where: str, owner_name: str) -> str | None:
        """Import one oauth2 block; its key in the result, or None when it could not be imported."""
        self.filler.unfilled = set()
        attrs = self.filler.deep(_auth_attributes(auth, where, self.report), where)
        self.report.extend(_unfilled_findings(where, self.filler.unfilled))
        kwargs, token_name = _map_attributes(attrs, where, self.report)
        if not _check_grant(kwargs, where, self.report):
            return None
        _drop_postman_callback(kwargs, where, self.report)
        key = self._unique(token_name or owner_name.strip() or "oauth2", where)
        kwargs["token_name"] = key
        cfg = _build(kwargs, where, self.report)
        if cfg is None:
            return None
        self.report.extend(config_findings(cfg, where))
        self.configs[key] = cfg
        return key

    def _unique(self, name: str, where: str) -> str:
        if name not in self.configs:
            return name
        n = 2
        while f"{name} ({n})" in self.configs:
            n += 1
        self.report.append(f"{where}: token name {name!r} is already used by another block; "
                           f"imported as {name + f' ({n})'!r}")
        return f"{name} ({n})"

    def resolve(self, auth: Any, inherited: Any, where: str, owner_name: str) -> Any:
        """The auth in effect at this level: a config key, ``_NONE``, or the parent's."""
        if auth is None:
            return inherited
        if not isinstance(auth, Mapping):
            self.report.append(f"{where}: 'auth' is not an object; treated as inherit")
            return inherited
        kind = auth.get("type")
        if kind in (None, "", "inherit"):
            return inherited
        if kind == "oauth2":
            key = self.block(auth, where, owner_name)
            return key if key is not None else self._NONE
        return self._NONE  # noauth, or another auth type: OAuth 2.0 stops here

    def walk(self, items: list[Any], inherited: Any, path: str, depth: int = 0) -> None:
        if depth > MAX_NESTING:
            raise too_deep(path)
        for index, item in enumerate(items, 1):
            if not isinstance(item, Mapping):
                self.report.append(f"{path}: item {index} is not an object; skipped")
                continue
            name = str(item.get("name") or f"item {index}")
            where = f"{path}/{name}"
            if isinstance(item.get("item"), list):
                self.walk(item["item"], self.resolve(item.get("auth"), inherited, where, name), where, depth + 1)
                continue
            request = item.get("request")
            auth = request.get("auth") if isinstance(request, Mapping) else None
            if auth is None:
                auth = item.get("auth")
            effective = self.resolve(auth, inherited, where, name)
            self.request_auth[self._unique_path(where)] = None if effective is self._NONE else effective

    def _unique_path(self, where: str) -> str:
        if where not in self.request_auth:
            return where
        n = 2
        while f"{where} ({n})" in self.request_auth:
            n += 1
        return f"{where} ({n})"


def from_postman(
    path: str | os.PathLike[str] | Mapping[str, Any],
    environment: str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> PostmanImport:
    """Every OAuth 2.0 auth block of a Postman collection export (v2.0/v2.1), as configs keyed by token name.

    ``environment``: a Postman environment export (path or parsed JSON) or a plain name → value
    mapping; its variables override the collection's.  Raises :class:`ConfigError` for a file that
    is not a readable v2.0/v2.1 collection; anything else that cannot be mapped goes to the report.
    """
    last_import_report.clear()
    report: list[str] = []
    data, name = _load_json(path, "collection")
    collection = _collection_root(data, name, report)
    variables = _collection_variables(collection)
    if environment is not None:
        variables.update(_environment_variables(environment))
    importer = _Importer(Filler(variables), report)
    info = collection.get("info") or {}
    title = str(info.get("name") or "collection")
    top = importer.resolve(collection.get("auth"), _Importer._NONE, title, title)
    importer.walk(collection.get("item") or [], top, title)
    source = Path(name).name if isinstance(path, str | os.PathLike) else name
    last_import_report[:] = report
    return PostmanImport(importer.configs, source=source, report=report, request_auth=importer.request_auth)

"""Hostile input from files and names: Postman variable bombs and nesting, placeholders that reach for
IPython's history, values filled from placeholders and header parameters kept out of traces and logs."""

from __future__ import annotations

import json
import logging
import tracemalloc
from pathlib import Path

import pytest

import nb_oauth
from nb_oauth import ConfigError, OAuth2Config
from nb_oauth.config import placeholders
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET
from nb_oauth.grants.resolve import resolve_config
from nb_oauth.importers import postman

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"


def collection(attrs: dict[str, str], variables: dict[str, str] | None = None, items: list | None = None) -> dict:
    return {
        "info": {"name": "Hostile", "schema": SCHEMA},
        "auth": {"type": "oauth2", "oauth2": [{"key": k, "value": v, "type": "string"} for k, v in attrs.items()]},
        "variable": [{"key": k, "value": v} for k, v in (variables or {}).items()],
        "item": items or [],
    }


BASE = {"grant_type": "client_credentials", "accessTokenUrl": "https://idp.example/token",
        "clientId": "c", "tokenName": "t"}


# -- Postman: expansion and nesting bounds ----------------------------------------------------------


def test_a_doubling_variable_bomb_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    variables = {f"v{i}": f"{{{{v{i + 1}}}}}" * 8 for i in range(40)}
    variables["v40"] = "x" * 40
    path = tmp_path / "bomb.postman_collection.json"
    path.write_text(json.dumps(collection({**BASE, "clientSecret": "{{v0}}"}, variables)))
    assert path.stat().st_size < 4096  # a few kilobytes that would expand to 8**40 characters
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError) as caught:
            postman.from_postman(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024  # bounded: the cap stops it long before memory runs out
    message = str(caught.value)
    assert "{{v" in message and "KiB" in message and "Fix:" in message


def test_a_variable_that_refers_to_itself_or_nests_too_deep_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\{\{loop\}\}"):
        postman.from_postman(collection({**BASE, "clientSecret": "{{loop}}"}, {"loop": "a{{loop}}"}))
    chain = {f"c{i}": f"{{{{c{i + 1}}}}}" for i in range(30)}
    chain["c30"] = "end"
    with pytest.raises(ConfigError, match=r"\{\{c\d+\}\}.*levels"):
        postman.from_postman(collection({**BASE, "clientSecret": "{{c0}}"}, chain))
    short = {f"c{i}": f"{{{{c{i + 1}}}}}" for i in range(5)}
    short["c5"] = "fine"
    assert postman.from_postman(collection({**BASE, "clientSecret": "{{c0}}"}, short))["t"].client_secret == "fine"


def test_deeply_nested_collections_are_a_config_error_not_a_recursion_error(tmp_path: Path) -> None:
    items: list = [{"name": "leaf", "request": {"url": "https://api.example"}}]
    for level in range(200):
        items = [{"name": f"folder {level}", "item": items}]
    with pytest.raises(ConfigError, match="nests deeper"):
        postman.from_postman(collection(BASE, items=items))
    deep_json = tmp_path / "deep.postman_collection.json"
    deep_json.write_text('{"info": {"name": "x", "schema": "' + SCHEMA + '"}, "item": ' + "[" * 100_000
                         + "]" * 100_000 + "}")
    with pytest.raises(ConfigError, match="nests deeper"):
        postman.from_postman(deep_json)
    value: object = "x"
    for _ in range(5000):
        value = [value]
    hostile = collection(BASE)
    hostile["auth"]["oauth2"].append({"key": "tokenRequestParams", "value": value})
    with pytest.raises(ConfigError, match="nests deeper"):
        postman.from_postman(hostile)


# -- Postman: what the report must say --------------------------------------------------------------


def test_the_report_lists_every_use_time_variable_with_its_host_and_flags_risky_settings() -> None:
    attrs = {**BASE, "accessTokenUrl": "https://collector.example/token", "clientSecret": "{{AWS_SECRET_ACCESS_KEY}}",
             "state": "fixed-state-123", "code_verifier": "v" * 43, "share": "true",
             "authUrl": "https://login.example/authorize", "grant_type": "authorization_code_with_pkce",
             "scope": "{{SCOPE}}"}
    result = postman.from_postman(collection(attrs))
    report = "\n".join(result.report)
    secret_line = next(line for line in result.report if "{{AWS_SECRET_ACCESS_KEY}}" in line)
    assert "collector.example" in secret_line and "client_secret" in secret_line and "use time" in secret_line
    scope_line = next(line for line in result.report if "{{SCOPE}}" in line)
    assert "login.example" in scope_line and "collector.example" in scope_line
    assert "fixed state" in report and "CSRF" in report
    assert "fixed code_verifier" in report and "PKCE" in report
    assert "share=True" in report and result["t"].share is True
    assert "fixed-state-123" not in report and "v" * 43 not in report  # names, never values


def test_a_history_name_in_a_collection_is_reported_and_never_filled() -> None:
    result = postman.from_postman(collection({**BASE, "clientSecret": "{{_i1}}"}))
    assert any("{{_i1}}" in line and "history" in line for line in result.report)
    placeholders.set_namespace(lambda: {"_i1": "my secret cell text"})
    try:
        with pytest.raises(ConfigError, match="history"):
            resolve_config(result["t"], discover=False)
    finally:
        placeholders.set_namespace(None)


# -- placeholders never read IPython's history ------------------------------------------------------


HISTORY_NAMES = ["_", "__", "___", "_i", "_ii", "_iii", "_i1", "_i42", "_1", "_12", "_oh", "_ih", "_dh", "In", "Out"]


@pytest.mark.parametrize("name", HISTORY_NAMES)
def test_placeholders_never_read_ipython_history_names(name: str, monkeypatch) -> None:
    namespace = {name: "the text of a private cell", "API_KEY": "key-from-the-notebook"}
    monkeypatch.setenv(name, "from the environment")
    placeholders.set_namespace(lambda: namespace)
    try:
        cfg = OAuth2Config(token_name="h", grant_type="client_credentials", access_token_url="https://idp.example/t",
                           client_id="c", client_secret="{{API_KEY}}",
                           token_request_params=[("leak", "{{" + name + "}}", "body")])
        with pytest.raises(ConfigError) as caught:
            resolve_config(cfg, discover=False)
        assert "history" in str(caught.value) and "private cell" not in str(caught.value)
        assert placeholders.lookup(name) is None
        assert placeholders.lookup("API_KEY") == "key-from-the-notebook"  # ordinary names still fill
    finally:
        placeholders.set_namespace(None)


# -- values filled from placeholders and header parameters are secrets ------------------------------


def test_filled_values_and_header_parameters_never_show_in_trace_logs_or_errors(demo, monkeypatch, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("HEADER_KEY", "hdr-secret-8c1f44")
    monkeypatch.setenv("URL_KEY", "url-secret-51ab90")
    cfg = OAuth2Config(token_name="params", grant_type="client_credentials", issuer=demo.url,
                       client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                       scope="items:read",
                       token_request_params=[("X-Api-Key", "{{HEADER_KEY}}", "header"),
                                             ("api_key", "{{URL_KEY}}", "url"),
                                             ("X-Plain-Header", "literal-header-secret", "header")])
    token = nb_oauth.get_new_access_token(cfg)
    shown = json.dumps(token.trace.to_dict()) + token.trace._repr_html_() + repr(token.trace)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert any("api_key=" in r.getMessage() for r in caplog.records if r.name.startswith("urllib3"))
    for secret in ("hdr-secret-8c1f44", "url-secret-51ab90", "literal-header-secret"):
        assert secret not in shown, secret
        assert secret not in logged, secret
    assert "X-Api-Key" in shown and "api_key" in shown  # the keys are shown, masked values only
    broken = cfg.copy(token_name="broken", client_secret="wrong-secret-value")
    with pytest.raises(nb_oauth.TokenEndpointError) as caught:
        nb_oauth.get_new_access_token(broken)
    printed = str(caught.value) + json.dumps(caught.value.trace.to_dict() if caught.value.trace else {})
    for secret in ("hdr-secret-8c1f44", "url-secret-51ab90", "literal-header-secret"):
        assert secret not in printed


@pytest.mark.parametrize("where", ["GET https://api.example/?q={{_i1}}", "GET https://api.example/\nX-Leak: {{Out}}",
                                   "POST https://api.example/\n\n{\"cell\": \"{{_ii}}\"}"])
def test_a_request_cell_never_fills_ipython_history(where: str) -> None:
    from nb_oauth.importers.http_file import parse

    placeholders.set_namespace(lambda: {"_i1": "secret cell", "Out": {1: "output"}, "_ii": "secret cell"})
    try:
        with pytest.raises(nb_oauth.OAuthError, match="history") as caught:
            parse(where)
        assert "secret cell" not in str(caught.value)
    finally:
        placeholders.set_namespace(None)

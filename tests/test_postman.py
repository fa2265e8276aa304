"""Importing Postman collection exports: every mapping, inheritance, variables, the report, errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import nb_oauth
from nb_oauth.errors import ConfigError
from nb_oauth.importers import postman

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "postman"
ACME = FIXTURES / "acme.postman_collection.json"
STAGING = FIXTURES / "staging.postman_environment.json"
LEGACY = FIXTURES / "legacy-v2.0.postman_collection.json"

SECRETS = ("collection-secret-do-not-use", "staging-secret-8f7e6d5c4b3a", "partner-secret-value",
           "web-secret-abcdef", "stored-legacy-token-0123456789",
           "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzdG9yZWQifQ.c3RvcmVkLXRva2VuLXNpZ25hdHVyZQ")


@pytest.fixture
def acme() -> postman.PostmanImport:
    return postman.from_postman(ACME, STAGING)


def acme_data() -> dict:
    return json.loads(ACME.read_text())


def findings(result: postman.PostmanImport, where: str) -> list[str]:
    return [line for line in result.report if line.startswith(where + ":")]


# -- what is imported -------------------------------------------------------------------------------


def test_every_oauth2_block_is_imported_keyed_by_token_name(acme: postman.PostmanImport) -> None:
    assert isinstance(acme, dict)
    assert list(acme) == ["Acme user", "Acme machine", "Acme machine (2)", "Legacy widget"]
    assert all(isinstance(cfg, nb_oauth.OAuth2Config) for cfg in acme.values())
    assert all(cfg.token_name == name for name, cfg in acme.items())  # the store key matches


def test_the_package_entry_point_forwards(acme: postman.PostmanImport) -> None:
    result = nb_oauth.from_postman(str(ACME), str(STAGING))
    assert dict(result) == dict(acme)


def test_collection_level_pkce_block_maps_every_key(acme: postman.PostmanImport) -> None:
    cfg = acme["Acme user"]
    assert cfg.grant_type == "authorization_code_with_pkce"
    assert cfg.auth_url == "https://login.acme.example/authorize"
    assert cfg.access_token_url == "https://login.acme.example/oauth/token"
    assert cfg.refresh_token_url == "https://login.acme.example/oauth/refresh"
    assert cfg.client_id == "acme-notebook"
    assert cfg.client_secret is None and cfg.state is None and cfg.code_verifier is None  # "" → unset
    assert cfg.scope == "openid profile offline_access"
    assert cfg.code_challenge_method == "S256"
    assert cfg.client_authentication == "body"
    assert cfg.add_token_to == "header"
    assert cfg.header_prefix == "Bearer"  # Postman's empty Header Prefix means Bearer
    assert cfg.authorize_using_browser is True
    assert cfg.auth_request_params == [("prompt", "consent", "url")]
    assert cfg.token_request_params == [("X-Request-Source", "notebook", "header")]
    assert cfg.refresh_request_params == [("scope", "openid offline_access", "body")]


def test_postman_own_callback_is_replaced_by_the_kernel_listener_and_reported(acme: postman.PostmanImport) -> None:
    assert acme["Acme user"].callback_url is None
    assert any("oauth.pstmn.io" in line and "Callback URL was left empty" in line
               for line in findings(acme, "Acme API"))


def test_folder_client_credentials_with_variables(acme: postman.PostmanImport) -> None:
    cfg = acme["Acme machine"]
    assert cfg.grant_type == "client_credentials"
    assert cfg.access_token_url == "https://api.staging.acme.example/oauth/token"  # environment wins
    assert cfg.client_secret == "staging-secret-8f7e6d5c4b3a"
    assert cfg.client_id == "svc-acme-staging"  # a variable whose value uses another variable
    assert cfg.add_token_to == "url"  # queryParams
    assert cfg.client_authentication == "header"
    assert cfg.token_request_params == [("audience", "{{apiAudience}}", "body")]  # unset: left for use time


def test_request_level_implicit_with_custom_params_audience_resource(acme: postman.PostmanImport) -> None:
    cfg = acme["Legacy widget"]
    assert cfg.grant_type == "implicit"
    assert cfg.auth_url == "https://login.acme.example/authorize"  # disabled env var does not override
    assert cfg.callback_url == "http://127.0.0.1:8765/callback"
    assert cfg.state == "widget-state-1"
    assert cfg.header_prefix == "Token"
    assert cfg.authorize_using_browser is None  # Postman's pop-up → nb_oauth's default, decided when the flow runs
    assert cfg.auth_request_params == [
        ("prompt", "login", "url"),
        ("resource", "https://widgets.example/api", "url"),
        ("resource", "https://reports.example/api", "url"),  # repeated keys are kept, in order
        ("X-Tenant", "acme-staging", "header"),
        ("ui_locales", "en fr", "body"),
        ("max_age", "600", "url"),  # a number becomes text
    ]  # login_hint is disabled; 'odd' has an unknown send_as
    assert cfg.audience == ["https://widgets.example/api"]  # {id: uri} object
    assert cfg.resource == ["https://widgets.example/", "https://reports.example/"]  # list


def test_inheritance_noauth_and_other_auth_types(acme: postman.PostmanImport) -> None:
    assert acme.request_auth == {
        "Acme API/Me": "Acme user",  # no auth → collection
        "Acme API/Health": None,  # noauth
        "Acme API/Machine/List invoices": "Acme machine",  # no auth → folder
        "Acme API/Machine/Create invoice": "Acme machine",  # type inherit → folder
        "Acme API/Partner/Partner orders": "Acme machine (2)",
        "Acme API/Admin/Stats": None,  # folder noauth stops the collection's auth
        "Acme API/Admin/Keys": None,  # API key auth, not OAuth 2.0
        "Acme API/Legacy widget": "Legacy widget",
        "Acme API/Experimental": None,  # its block could not be imported
    }
    assert acme.used_by["Acme user"] == ["Acme API/Me"]
    assert acme.used_by["Acme machine"] == ["Acme API/Machine/List invoices", "Acme API/Machine/Create invoice"]


def test_name_falls_back_to_the_holder_and_collisions_get_a_suffix() -> None:
    data = acme_data()
    for block in (data["auth"], data["item"][2]["auth"], data["item"][3]["auth"]):
        block["oauth2"] = [a for a in block["oauth2"] if a["key"] != "tokenName"]
    data["item"][3]["name"] = "Machine"  # same name as the first folder
    result = postman.from_postman(data)
    assert list(result)[:3] == ["Acme API", "Machine", "Machine (2)"]
    assert result["Machine (2)"].token_name == "Machine (2)"
    assert any("imported as 'Machine (2)'" in line for line in result.report)


def test_variable_precedence_environment_over_collection_and_unfilled_stay() -> None:
    plain = postman.from_postman(ACME)
    assert plain["Acme machine"].access_token_url == "https://api.acme.example/oauth/token"
    assert plain["Acme machine"].client_secret == "collection-secret-do-not-use"
    assert plain["Acme machine"].client_id == "svc-acme"
    env = postman.from_postman(ACME, {"baseUrl": "https://api.mapping.example"})  # plain mapping
    assert env["Acme machine"].access_token_url == "https://api.mapping.example/oauth/token"
    assert env["Acme machine"].client_secret == "collection-secret-do-not-use"
    parsed = postman.from_postman(ACME, json.loads(STAGING.read_text()))  # parsed environment export
    assert parsed["Acme machine"].client_secret == "staging-secret-8f7e6d5c4b3a"
    assert any("{{apiAudience}} is not set" in line and "filled at use time" in line
               for line in findings(plain, "Acme API/Machine"))


def test_unfilled_placeholders_fill_at_use_time(monkeypatch: pytest.MonkeyPatch) -> None:
    result = postman.from_postman(LEGACY)
    cfg = result["Legacy tools"]
    assert (cfg.client_secret, cfg.username, cfg.password) == ("{{legacySecret}}", "{{user}}", "{{pass}}")
    monkeypatch.setenv("legacySecret", "s")
    monkeypatch.setenv("user", "alice")
    monkeypatch.setenv("pass", "pw")
    filled = cfg.with_placeholders_filled()
    assert (filled.client_secret, filled.username, filled.password) == ("s", "alice", "pw")


def test_postman_dynamic_and_unusable_variable_names_are_reported() -> None:
    data = acme_data()
    data["auth"]["oauth2"].append({"key": "state", "value": "{{$guid}}", "type": "string"})
    data["auth"]["oauth2"].append({"key": "scope", "value": "{{my scope}}", "type": "string"})
    result = postman.from_postman(data)
    lines = findings(result, "Acme API")
    assert any("{{$guid}} is a Postman dynamic variable" in line for line in lines)
    assert any("{{my scope}} is not set, and its name cannot be filled at use time" in line for line in lines)


# -- v2.0 -------------------------------------------------------------------------------------------


def test_v2_0_object_attributes_and_legacy_spellings() -> None:
    result = postman.from_postman(LEGACY)
    assert list(result) == ["Legacy tools", "Old login"]
    tools = result["Legacy tools"]
    assert tools.grant_type == "password_credentials"
    assert tools.access_token_url == "https://legacy.example/oauth/token"
    assert tools.client_id == "legacy-cli" and tools.scope == "tools"
    assert tools.add_token_to == "url" and tools.header_prefix == "Token"
    assert tools.client_authentication == "body"
    assert tools.use_token_type == "id_token"
    assert tools.token_request_params == [("audience", "https://legacy.example/api", "body"),
                                          ("audience", "https://legacy.example/admin", "body")]
    old = result["Old login"]
    assert old.grant_type == "authorization_code"  # grantType
    assert old.client_authentication == "body"  # clientAuth
    assert old.callback_url is None  # callBackUrl was Postman's own callback
    assert old.code_challenge_method == "plain"
    assert old.auto_refresh is False  # autoRefresh matched by name
    assert old.code_verifier is None  # refused value dropped …
    assert any("code_verifier was not imported" in line and "9 characters" in line
               for line in findings(result, "Legacy tools/Old login"))  # … and reported
    assert result.request_auth == {"Legacy tools/Tools": "Legacy tools", "Legacy tools/Old login": "Old login"}


def test_v2_0_list_attributes_are_read_too() -> None:
    data = json.loads(LEGACY.read_text())
    data["auth"]["oauth2"] = [{"key": k, "value": v, "type": "string"} for k, v in data["auth"]["oauth2"].items()]
    assert postman.from_postman(data)["Legacy tools"] == postman.from_postman(LEGACY)["Legacy tools"]


def test_v2_1_object_attributes_are_read_too() -> None:
    data = acme_data()
    data["auth"]["oauth2"] = {a["key"]: a["value"] for a in data["auth"]["oauth2"]}
    assert postman.from_postman(data)["Acme user"] == postman.from_postman(ACME)["Acme user"]


@pytest.mark.parametrize("value, expected", [
    ("https://a.example https://b.example", ["https://a.example", "https://b.example"]),
    (["https://a.example"], ["https://a.example"]),
    ({"k1": "https://a.example", "k2": "https://b.example"}, ["https://a.example", "https://b.example"]),
    ([{"key": "aud", "value": "https://a.example"}, {"value": "https://x.example", "enabled": False}],
     ["https://a.example"]),
    ({}, []),
    ("", []),
])
def test_audience_shapes(value: object, expected: list[str]) -> None:
    data = acme_data()
    data["auth"]["oauth2"].append({"key": "audience", "value": value, "type": "any"})
    assert postman.from_postman(data)["Acme user"].audience == expected


def test_every_grant_type_maps() -> None:
    for grant in ("authorization_code", "authorization_code_with_pkce", "implicit", "password_credentials",
                  "client_credentials"):
        data = acme_data()
        for attr in data["auth"]["oauth2"]:
            if attr["key"] == "grant_type":
                attr["value"] = grant
        assert postman.from_postman(data)["Acme user"].grant_type == grant


# -- the report -------------------------------------------------------------------------------------


def test_unmapped_keys_and_values_are_reported_not_dropped(acme: postman.PostmanImport) -> None:
    widget = findings(acme, "Acme API/Legacy widget")
    assert any("key 'accessToken' not mapped" in line for line in widget)
    assert any("key 'tokenType' not mapped" in line for line in widget)
    assert any("key 'sendClientCredentialsInBody' not mapped" in line for line in widget)
    assert any("parameter 'odd' skipped" in line and "request_cookie" in line for line in widget)
    partner = findings(acme, "Acme API/Partner")
    assert any("key 'client_authentication' not mapped (value 'none'" in line for line in partner)
    assert acme["Acme machine (2)"].client_authentication == "header"
    experimental = findings(acme, "Acme API/Experimental")
    assert any("key 'grant_type' not mapped" in line and "not imported" in line for line in experimental)
    assert postman.last_import_report == acme.report


def test_report_repr_and_html_never_show_secrets(acme: postman.PostmanImport) -> None:
    legacy = postman.from_postman(LEGACY)
    for result in (acme, legacy):
        shown = "\n".join([repr(result), result._repr_html_(), *result.report, *map(repr, result.values())])
        for secret in SECRETS:
            assert secret not in shown, secret
    assert "'Acme machine': client_credentials" in repr(acme)
    assert "Not imported as is:" in repr(acme)


def test_html_is_escaped() -> None:
    data = acme_data()
    for attr in data["auth"]["oauth2"]:
        if attr["key"] == "tokenName":
            attr["value"] = "<script>alert(1)</script>"
    out = postman.from_postman(data)._repr_html_()
    assert "<script>" not in out and "&lt;script&gt;" in out


def test_non_text_values_are_reported() -> None:
    data = acme_data()
    data["auth"]["oauth2"].append({"key": "clientId", "value": ["a", "b"], "type": "any"})
    data["auth"]["oauth2"].append({"key": "useBrowser", "value": "maybe", "type": "string"})
    result = postman.from_postman(data)
    assert result["Acme user"].client_id is None
    lines = findings(result, "Acme API")
    assert any("key 'clientId' not mapped (expected text, got list)" in line for line in lines)
    assert any("key 'useBrowser' not mapped" in line for line in lines)


def test_a_refused_url_is_dropped_and_reported_not_fatal() -> None:
    data = acme_data()
    for attr in data["auth"]["oauth2"]:
        if attr["key"] == "refreshTokenUrl":
            attr["value"] = "http://idp.example/refresh"  # plain http to a remote host
    result = postman.from_postman(data)
    assert result["Acme user"].refresh_token_url is None
    assert any("refresh_token_url was not imported" in line and "plain http" in line for line in result.report)


# -- malformed input --------------------------------------------------------------------------------


@pytest.mark.parametrize("content, cause", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "not a Postman collection"),
    ('{"name": "x", "requests": [], "order": []}', "old v1 format"),
    ('{"info": {"name": "x", "schema": "https://schema.getpostman.com/json/collection/v1.0.0/collection.json"},'
     ' "item": []}', "schema"),
    ('{"info": {"name": "x", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},'
     ' "item": {}}', "'item' is not a list"),
    ('{"name": "env", "values": []}', "environment export, not a collection"),
])
def test_malformed_files_raise_config_error_naming_file_and_cause(tmp_path: Path, content: str, cause: str) -> None:
    path = tmp_path / "broken.postman_collection.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        postman.from_postman(path)
    assert str(path) in str(info.value) and cause in str(info.value)


def test_missing_file_and_bad_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read the Postman collection"):
        postman.from_postman(tmp_path / "nope.json")
    env = tmp_path / "env.json"
    env.write_text('{"id": "x", "name": "env", "values": {}}')
    with pytest.raises(ConfigError, match="not a Postman environment export"):
        postman.from_postman(ACME, env)


def test_missing_schema_is_read_as_v2_1_and_reported() -> None:
    data = acme_data()
    del data["info"]["schema"]
    result = postman.from_postman(data)
    assert "Acme user" in result
    assert any("info.schema is missing" in line for line in result.report)


def test_api_wrapped_export_and_collection_without_auth() -> None:
    result = postman.from_postman({"collection": acme_data()})
    assert "Acme user" in result
    bare = {"info": {"name": "Bare", "schema": "https://schema.postman.com/json/collection/v2.1.0/collection.json"},
            "item": [{"name": "Ping", "request": {"method": "GET", "url": "https://x.example"}}]}
    empty = postman.from_postman(copy.deepcopy(bare))
    assert dict(empty) == {} and empty.request_auth == {"Bare/Ping": None} and empty.report == []


def test_a_collection_cannot_relax_security_checks() -> None:
    data = acme_data()
    data["auth"]["oauth2"] += [{"key": "allowInsecureHttp", "value": True, "type": "boolean"},
                               {"key": "validate_id_token", "value": False, "type": "boolean"},
                               {"key": "autoRefresh", "value": False, "type": "boolean"}]
    result = postman.from_postman(data)
    cfg = result["Acme user"]
    assert cfg.allow_insecure_http is False and cfg.validate_id_token is True
    assert cfg.auto_refresh is False  # a harmless setting found by name is still imported
    lines = findings(result, "Acme API")
    assert any("key 'allowInsecureHttp' not mapped (it relaxes a security check" in line for line in lines)
    assert any("key 'validate_id_token' not mapped" in line for line in lines)

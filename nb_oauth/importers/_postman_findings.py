"""What an imported config will do that the user should know before using it.

An imported collection is someone else's file, so the import report lists:

* every ``{{variable}}`` left for use time, with the host its value will be sent to: at use time
  it is filled from the notebook's variables or the process environment, so a collection could
  otherwise pick up ``{{AWS_SECRET_ACCESS_KEY}}`` and send it to its own server;
* a fixed ``state`` or ``code_verifier`` (sent on every login: a fixed state allows login CSRF,
  a fixed verifier defeats PKCE);
* ``share=True`` (the token would be written to the shared store on disk).

Findings name fields, variables and hosts, never values.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ..config import OAuth2Config, placeholders

#: Where each field's value travels, as the URL fields that name the receiving hosts.
_SENT_TO: dict[str, tuple[str, ...]] = {
    "callback_url": ("callback_url",),
    "client_id": ("auth_url", "access_token_url", "device_authorization_url"),
    "client_secret": ("access_token_url", "device_authorization_url", "revocation_url"),
    "username": ("access_token_url",),
    "password": ("access_token_url",),
    "code_verifier": ("access_token_url",),
    "scope": ("auth_url", "access_token_url", "device_authorization_url"),
    "state": ("auth_url",),
    "nonce": ("auth_url",),
    "audience": ("auth_url", "access_token_url"),
    "resource": ("auth_url", "access_token_url"),
    "auth_request_params": ("auth_url", "device_authorization_url"),
    "token_request_params": ("access_token_url",),
    "refresh_request_params": ("refresh_token_url", "access_token_url"),
}
_URL_FIELDS = ("auth_url", "access_token_url", "refresh_token_url", "device_authorization_url", "revocation_url",
               "introspection_url", "userinfo_url", "jwks_url", "issuer")


def _host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None
    return netloc.rsplit("@", 1)[-1] or None


def _destinations(cfg: OAuth2Config, field: str) -> list[str]:
    if field in _URL_FIELDS:
        targets: tuple[str, ...] = (field,)
    elif field == "header_prefix":
        return ["every API this token is sent to"]
    else:
        targets = _SENT_TO.get(field, ())
    hosts: list[str] = []
    for target in targets:
        url = getattr(cfg, target, None) or (cfg.access_token_url if target == "refresh_token_url" else None)
        host = _host(url)
        if host is None and cfg.issuer and target != "callback_url":
            host = f"{_host(cfg.issuer)} (from the issuer's discovery)"
        if host and host not in hosts:
            hosts.append(host)
    return hosts


def _field_texts(cfg: OAuth2Config) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in vars(cfg).items():
        if isinstance(value, str):
            out.append((name, value))
        elif isinstance(value, list):
            for item in value:
                parts = item if isinstance(item, tuple) else (item,)
                out += [(name, str(p)) for p in parts[:2]]
    return out


def variable_findings(cfg: OAuth2Config, where: str) -> list[str]:
    """One line per variable left for use time: the fields it is in and the hosts it will be sent to."""
    fields_of: dict[str, list[str]] = {}
    for field, text in _field_texts(cfg):
        for match in placeholders.PLACEHOLDER.finditer(text):
            fields_of.setdefault(match.group(1), [])
            if field not in fields_of[match.group(1)]:
                fields_of[match.group(1)].append(field)
    out: list[str] = []
    for name, fields in sorted(fields_of.items()):
        if placeholders.is_history_name(name):
            out.append(f"{where}: {{{{{name}}}}} (in {', '.join(fields)}) is one of IPython's history names, "
                       "which nb_oauth never fills in; using this config fails until it is replaced")
            continue
        hosts = [h for f in fields for h in _destinations(cfg, f)]
        sent = ", ".join(dict.fromkeys(hosts)) or "no server (it is not sent)"
        out.append(f"{where}: {{{{{name}}}}} is not set in the collection or environment; it stays a placeholder, "
                   "filled at use time from a notebook variable or environment variable of that name "
                   f"(in {', '.join(fields)}), and is sent to {sent}")
    return out


def config_findings(cfg: OAuth2Config, where: str) -> list[str]:
    """Everything the report must say about one imported config."""
    out = variable_findings(cfg, where)
    if cfg.state:
        out.append(f"{where}: a fixed state is imported and would be sent on every login, which weakens the "
                   "protection against login CSRF; remove it (cfg.copy(state=None)) to get a fresh one each time")
    if cfg.code_verifier:
        out.append(f"{where}: a fixed code_verifier is imported and would be sent on every login, which "
                   "defeats PKCE; remove it (cfg.copy(code_verifier=None)) to get a fresh one each time")
    if cfg.share:
        out.append(f"{where}: the collection sets share=True: the token would be written to the shared store on "
                   "disk for your other kernels; set share=False unless you want that")
    return out

"""Device authorization grant (RFC 8628): show a code, let the user approve anywhere, poll.

It needs no redirect, so it works wherever the kernel runs (Colab, SSH, a locked-down hub).
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from oauthlib.oauth2 import DeviceClient

from .._presenter import presenter
from .._token import TokenSet
from .._trace import Trace
from .._transport import (
    PreparedCall,
    apply_client_authentication,
    raise_for_oauth_error,
    send,
)
from ..config import OAuth2Config
from ..errors import (
    AuthorizationDeniedError,
    FlowCancelledError,
    FlowTimeoutError,
    TokenEndpointError,
)
from ..redirect.browser import open_in_browser
from ..redirect.listener import callback_timeout
from ._token_request import (
    audience_and_resource,
    body_pairs,
    config_secrets,
    request_token,
)

SLOW_DOWN_STEP = 5.0  # RFC 8628 §3.5: add 5 seconds on slow_down


def fetch(cfg: OAuth2Config, trace: Trace | None, *, cancel: threading.Event | None = None,
          open_browser: bool = True, timeout: float | None = None) -> TokenSet:
    cancel = cancel or threading.Event()
    secrets = config_secrets(cfg)
    call = PreparedCall("POST", cfg.device_authorization_url or "")
    if cfg.scope:
        call.body.append(("scope", cfg.scope))
    call.body.extend(audience_and_resource(cfg))
    apply_client_authentication(call, cfg.client_id, cfg.client_secret, cfg.client_authentication)
    if not any(k == "client_id" for k, _ in call.body) and call.basic_auth is None:
        call.body.append(("client_id", cfg.client_id or ""))
    call.add_custom(cfg.auth_request_params)
    started = time.time()
    resp = send(call, secrets=secrets, what="device authorization request")
    data = raise_for_oauth_error(resp, what="device authorization request", error_cls=TokenEndpointError,
                                 secrets=secrets)
    device_code, user_code = data.get("device_code"), data.get("user_code")
    verification_uri = data.get("verification_uri") or data.get("verification_url")  # Google says _url
    if not all(isinstance(v, str) and v for v in (device_code, user_code, verification_uri)):
        raise TokenEndpointError("The device authorization answer lacks device_code, user_code or verification_uri.",
                                 fix="Check device_authorization_url points at the provider's device endpoint.",
                                 secrets=secrets)
    assert isinstance(device_code, str) and isinstance(user_code, str) and isinstance(verification_uri, str)
    complete = data.get("verification_uri_complete")
    for uri in (verification_uri, complete if isinstance(complete, str) and complete else None):
        check_verification_uri(uri, cfg, secrets)
    interval = _number(data.get("interval"), 5.0)
    lifetime = _number(data.get("expires_in"), 600.0)
    if trace is not None:
        trace.add_secret(device_code)
        trace.record("Device authorization request", "notebook", "server", method="POST", url=call.url,
                     params=call.body, status=resp.status, response=data, started=started, duration=resp.elapsed)
    deadline = time.time() + min(lifetime, callback_timeout(timeout or cfg.callback_timeout))
    target = complete if isinstance(complete, str) and complete else verification_uri
    opened = False
    if open_browser:
        open_in_browser(target)
        opened = True
    presenter().device_code(verification_uri, user_code, complete_uri=complete if isinstance(complete, str) else None,
                            deadline=deadline, opened=opened)
    if trace is not None:
        trace.record("User opens the verification page and enters the code", "user", "browser", kind="redirect",
                     url=target, params=[("user_code", user_code)])
    client = DeviceClient(cfg.client_id or "")
    grant_body = body_pairs(client.prepare_request_body(device_code, include_client_id=False))
    polls = 0
    while True:
        if cancel.wait(timeout=max(0.0, min(interval, deadline - time.time()))):
            raise FlowCancelledError("The device login was cancelled.")
        if time.time() >= deadline:
            raise FlowTimeoutError("Nobody approved the device login in time.",
                                   fix="Run it again and enter the code at the verification page sooner.")
        polls += 1
        poll_started = time.time()
        try:
            token_set = request_token(cfg, grant_body, trace=None, title="Token request (device code)",
                                      extra_secrets=[device_code])
        except TokenEndpointError as exc:
            if exc.error == "authorization_pending":
                continue
            if exc.error == "slow_down":
                interval += SLOW_DOWN_STEP
                continue
            if trace is not None:
                trace.record("Token request (device code)", "notebook", "server", method="POST",
                             url=cfg.access_token_url, params=grant_body, status=exc.status, kind="error",
                             response={"error": exc.error, "error_description": exc.error_description})
            if exc.error == "access_denied":
                raise AuthorizationDeniedError("The device login was denied.", error=exc.error,
                                               error_description=exc.error_description) from None
            if exc.error == "expired_token":
                raise FlowTimeoutError("The device code expired before the login was approved.", error=exc.error,
                                       error_description=exc.error_description) from None
            raise
        if trace is not None:
            trace.add_secret(*token_set.secrets())
            trace.record("Token request (device code)", "notebook", "server", method="POST",
                         url=cfg.access_token_url, params=grant_body, status=200, response=dict(token_set.raw),
                         note=f"polled {polls} time(s), every {interval:g} s, until the user approved",
                         started=poll_started, duration=time.time() - poll_started)
        return token_set

def check_verification_uri(uri: str | None, cfg: OAuth2Config, secrets: list[str | None]) -> None:
    """The server's verification URI is opened in the browser and shown as a link: https only (http to
    loopback, or with ``allow_insecure_http``).  ``javascript:``, ``file:`` or an OS protocol handler
    (``ms-msdt:``) would run something on the user's machine."""
    if uri is None:
        return
    from ..config import is_loopback_host

    try:
        parts = urlsplit(uri)
        ok = parts.scheme == "https" or (parts.scheme == "http" and (
            cfg.allow_insecure_http or is_loopback_host(parts.hostname)))
        ok = ok and bool(parts.hostname) and not any(c.isspace() or ord(c) < 32 for c in uri)
    except ValueError:
        ok = False
    if not ok:
        shown = uri if len(uri) <= 200 else uri[:200] + "…"
        raise TokenEndpointError(
            f"The device authorization answer gives a verification URI that is not an https address, so it was "
            f"neither opened nor shown as a link: {shown!r}.",
            fix="Check device_authorization_url: the provider should send an https verification_uri "
                "(http only to loopback, or with allow_insecure_http=True).", secrets=secrets)


def _number(value: object, default: float) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default

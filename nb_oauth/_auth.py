"""Putting the token on requests: ``nb_oauth.auth(name)`` for requests and httpx, ``nb_oauth.session(name)``.

The token goes where the config says (``Authorization: <prefix> <token>`` or the
``access_token`` query parameter), is refreshed shortly before it expires (single-flight, see
:mod:`nb_oauth._store`), and a 401 leads to one refresh and one retry.  For httpx this is a
generator ``auth_flow`` (the retry is one more ``yield``); for requests, a response hook.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Protocol

import requests
from requests.auth import AuthBase

from ._async_flight import Flight, in_thread_once
from ._bearer_rules import check_bearer_transport, check_plain_http_netloc, hint_on_bare_403, same_origin, without_param
from ._log_guard import masked_exception
from .dpop import landed_elsewhere, nonce_challenge, proof_for, sign_next_hop, wants_nonce_retry

if TYPE_CHECKING:
    from ._token import Token, TokenSet
    from .config import OAuth2Config


class TokenSource(Protocol):
    """Where an auth object gets the token to send (the kernel's token store, or a Dask worker's copy)."""

    def __getitem__(self, name: str) -> Token: ...

    def config(self, name: str) -> OAuth2Config: ...

    def current(self, name: str) -> TokenSet: ...

    def refresh_after_401(self, name: str, rejected_access_token: str) -> TokenSet | None: ...


_default_source: TokenSource | None = None


def set_default_source(source: TokenSource) -> None:
    """The source used when none is given (the store registers itself when it is created)."""
    global _default_source
    _default_source = source


class OAuth2Auth(AuthBase):
    """Auth for ``requests`` (``auth=``) and, through :func:`auth`, for ``httpx`` (sync and async)."""

    requires_request_body = False
    requires_response_body = False

    def __init__(self, name: str, store: TokenSource | None = None) -> None:
        self.name = name
        source = store if store is not None else _default_source
        if source is None:
            raise RuntimeError("nb_oauth's token store is not loaded: import nb_oauth first.")
        self.store = source
        self._placed: tuple[TokenSet, tuple[str, str, str | None], tuple[str, str]] | None = None
        self._flights: dict[int, Flight] = {}  # event-loop thread -> its refresh in flight
        self.store[name]  # fail now, with the helpful KeyError, if there is no such token

    # -- what to send --------------------------------------------------------------------------------

    def _value(self, token_set: TokenSet) -> str:
        cfg = self.store.config(self.name)
        if cfg.use_token_type == "id_token":
            if not token_set.id_token:
                from .errors import ConfigError

                raise ConfigError(f"Use Token Type is id_token, but token {self.name!r} has no ID token.",
                                  fix="Ask for the openid scope, or set use_token_type='access_token'.")
            return token_set.id_token
        return token_set.access_token

    def _placement(self, token_set: TokenSet, cfg: OAuth2Config) -> tuple[str, str]:
        """("header", header value) or ("url", token); rebuilt only when the token or those settings change."""
        how = (cfg.use_token_type, cfg.add_token_to, cfg.header_prefix)
        cached = self._placed
        if cached is not None and cached[0] is token_set and cached[1] == how:
            return cached[2]
        value = self._value(token_set)
        if cfg.add_token_to == "url":
            placed = ("url", value)
        else:
            prefix = cfg.header_prefix.strip() if cfg.header_prefix is not None else ""
            prefix = "DPoP" if token_set.dpop_key is not None else prefix  # RFC 9449 §7.1
            placed = ("header", f"{prefix} {value}" if prefix else value)
        self._placed = (token_set, how, placed)
        return placed

    # -- requests ------------------------------------------------------------------------------------

    def secrets(self) -> list[str]:
        """What a message about this auth's requests must never show: the tokens it may have sent."""
        placed = self._placed
        return placed[0].secrets() if placed is not None else []

    def _apply_requests(self, r: requests.PreparedRequest, token_set: TokenSet) -> None:
        url = r.url or ""
        cfg = self.store.config(self.name)
        check_bearer_transport(url, self.name, cfg.allow_insecure_http)
        where, value = self._placement(token_set, cfg)
        if where == "header":
            r.headers["Authorization"] = value
        else:
            r.prepare_url(without_param(url, "access_token"), {"access_token": value})
        if token_set.dpop_key is not None:  # the URL is looked at again only for a DPoP-bound token
            proof = proof_for(token_set, r.method or "GET", r.url or "", token_set.access_token)
            if proof is not None:
                r.headers["DPoP"] = proof

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        token_set = self.store.current(self.name)
        self._apply_requests(r, token_set)
        r._nb_oauth_set = token_set  # type: ignore[attr-defined]
        r.hooks["response"].append(self._retry_on_401)
        return r

    def _sent_set(self, request: requests.PreparedRequest) -> TokenSet | None:
        """The token set ``request`` carries: marked when it was sent, or, on a hop of a redirect requests followed
        (a copy without the mark), the last one placed when the hop still carries its header."""
        marked: TokenSet | None = getattr(request, "_nb_oauth_set", None)
        placed = self._placed
        if marked is None and placed is not None and placed[2][0] == "header" \
                and request.headers.get("Authorization") == placed[2][1]:
            return placed[0]
        return marked

    def _guard(self, response: Any) -> Any:
        """``response.raise_for_status()`` (requests or httpx) with the URL's token masked in the message.

        Only a token placed in the URL can reach that message (it quotes the URL, never a header)."""
        placed = self._placed
        if placed is None or placed[2][0] != "url":
            return response
        original = response.raise_for_status
        if getattr(original, "_nb_oauth_guarded", False):
            return response

        def raise_for_status() -> Any:
            try:
                return original()
            except Exception as exc:
                raise masked_exception(exc, self.secrets()) from None

        raise_for_status._nb_oauth_guarded = True  # type: ignore[attr-defined]
        response.raise_for_status = raise_for_status
        return response

    def _retry_on_401(self, r: requests.Response, **kwargs: Any) -> requests.Response:
        request, status = r.request, r.status_code
        self._guard(r)
        self._hint_on_bare_403(status, r.headers, request.url)
        sent_set = self._sent_set(request)
        if sent_set is None:
            return r
        dpop = sent_set.dpop_key is not None
        if dpop and r.is_redirect:
            sign_next_hop(r, sent_set)
            return r
        nonce_retry = dpop and wants_nonce_retry(sent_set, request.url or "", status, r.headers)
        if status != 401 or getattr(request, "_nb_oauth_retried", False):
            return r
        new = sent_set if nonce_retry else self.store.refresh_after_401(self.name, sent_set.access_token)
        if new is None:
            return r
        r.content  # noqa: B018 - drain so the connection can be reused
        r.close()
        retry = request.copy()
        self._apply_requests(retry, new)
        retry._nb_oauth_retried = True  # type: ignore[attr-defined]
        retry._nb_oauth_set = new  # type: ignore[attr-defined]
        from ._transport import http_timeout

        kwargs.setdefault("timeout", http_timeout())
        second = r.connection.send(retry, **kwargs)
        second.history.append(r)
        second.request = retry
        if nonce_retry:
            self._nonce_again(second.status_code, second.headers, retry.url or "")
        self._guard(second)
        return second

    # -- httpx ---------------------------------------------------------------------------------------

    def _apply_httpx(self, request: Any, token_set: TokenSet) -> None:
        url = request.url
        cfg = self.store.config(self.name)
        if url.scheme == "http" and not cfg.allow_insecure_http:
            check_plain_http_netloc(url.netloc.decode("ascii", "replace"), self.name)
        where, value = self._placement(token_set, cfg)
        if where == "header":
            request.headers["Authorization"] = value
        else:
            request.url = url.copy_set_param("access_token", value)
        if token_set.dpop_key is not None:  # the URL is turned into text only for a DPoP-bound token
            proof = proof_for(token_set, request.method, str(request.url), token_set.access_token)
            if proof is not None:
                request.headers["DPoP"] = proof

    def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
        token_set = self.store.current(self.name)
        self._apply_httpx(request, token_set)
        response = self._guard((yield request))
        next_step = self._httpx_next_step(request, response, token_set)
        if next_step == "hop":  # a redirect's last hop, sent again with its own proof (a nonce retry may follow)
            request = response.request
            self._apply_httpx(request, token_set)
            response = self._guard((yield request))
            next_step = "nonce" if self._httpx_next_step(request, response, token_set) == "nonce" else ""
        if next_step == "nonce":
            self._apply_httpx(request, token_set)  # a new proof, with the nonce the server asked for
            again = self._guard((yield request))
            self._nonce_again(again.status_code, again.headers, str(request.url))
        elif next_step == "refresh":
            new = self.store.refresh_after_401(self.name, token_set.access_token)
            if new is not None:
                self._apply_httpx(request, new)
                self._guard((yield request))

    async def async_auth_flow(self, request: Any):  # type: ignore[no-untyped-def]
        """Expiry is checked inline on the event loop; only a refresh (blocking I/O) goes to a worker thread,
        one at a time per event loop: the other requests that find it due wait for it, off the thread pool."""
        token_set = self._fresh()
        if token_set is None:
            token_set = await in_thread_once(self._flights, lambda: self.store.current(self.name), self._fresh)
        self._apply_httpx(request, token_set)
        response = self._guard((yield request))
        next_step = self._httpx_next_step(request, response, token_set)
        if next_step == "hop":  # a redirect's last hop, sent again with its own proof (a nonce retry may follow)
            request = response.request
            self._apply_httpx(request, token_set)
            response = self._guard((yield request))
            next_step = "nonce" if self._httpx_next_step(request, response, token_set) == "nonce" else ""
        if next_step == "nonce":
            self._apply_httpx(request, token_set)  # a new proof, with the nonce the server asked for
            again = self._guard((yield request))
            self._nonce_again(again.status_code, again.headers, str(request.url))
        elif next_step == "refresh":
            new = await self._async_after_401(token_set.access_token)
            if new is not None:
                self._apply_httpx(request, new)
                self._guard((yield request))

    def _httpx_next_step(self, request: Any, response: Any, token_set: TokenSet) -> str:
        """What an httpx answer asks for, in the sync and async flows alike: ``"nonce"`` (resend with the DPoP
        nonce), ``"hop"`` (resend a redirect's last hop with its own proof), ``"refresh"`` or ``""``."""
        status = response.status_code
        self._hint_on_bare_403(status, response.headers, str(request.url))
        if token_set.dpop_key is not None:
            nonce = wants_nonce_retry(token_set, str(request.url), status, response.headers)
            if status == 401 and landed_elsewhere(request, response) and same_origin(request, response):
                return "hop"
            if nonce:
                return "nonce"
        return "refresh" if status == 401 and same_origin(request, response) else ""

    def _fresh(self) -> TokenSet | None:
        """The token set to send when the store would hand it back without a refresh (a lookup and a clock
        read, no I/O); None when a refresh is due."""
        token_set = self.store[self.name].token_set
        cfg = self.store.config(self.name)
        due = token_set.refresh_due_at(cfg.refresh_leeway)
        now = time.time()
        if due is None or now < due:
            return token_set
        left = token_set.seconds_left(now)
        cannot_renew = not cfg.auto_refresh or (not token_set.refresh_token and cfg.grant_type != "client_credentials")
        return token_set if cannot_renew and left is not None and left > 0 else None  # still valid: used as it is

    async def _async_after_401(self, rejected: str) -> TokenSet | None:
        if not self.store.config(self.name).auto_refresh:
            return None

        def replaced() -> TokenSet | None:  # someone already refreshed: no need to ask the store again
            token_set = self.store[self.name].token_set
            return token_set if token_set.access_token != rejected else None

        return replaced() or await in_thread_once(
            self._flights, lambda: self.store.refresh_after_401(self.name, rejected), replaced, none_is_an_answer=True)

    def _nonce_again(self, status: int, headers: Any, url: str) -> None:
        """An API that asks for a new nonce again after the one retry gets its 401 handed back; say why, once."""
        if nonce_challenge(status, headers) and not getattr(self, "_told_nonce", False):
            self._told_nonce = True
            from urllib.parse import urlsplit

            from ._presenter import presenter

            parts = urlsplit(url)
            presenter().notice(f"{parts.scheme}://{parts.netloc} asked for a new DPoP nonce again after nb_oauth's one "
                               "retry with the nonce it gave, so its 401 is handed back. Check that API's DPoP nonce "
                               "handling (and this machine's clock).")

    def __repr__(self) -> str:
        return f"OAuth2Auth({self.name!r})"

    def _hint_on_bare_403(self, status: int, headers: Any, url: str | None) -> None:
        if status == 403 and not getattr(self, "_hinted_403", False):
            self._hinted_403 = hint_on_bare_403(self.name, headers, url)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled, an auth object is its token's name: no token travels (e.g. in a Dask task graph)."""
        return _restore, (self.name, type(self) is not OAuth2Auth)


class _CurrentDefaultSource:
    """The default source at the time of each call (where an unpickled auth object ends up, e.g. a Dask worker)."""

    def _source(self) -> TokenSource:
        if _default_source is None:
            raise RuntimeError("nb_oauth's token store is not loaded: import nb_oauth first.")
        return _default_source

    def __getitem__(self, name: str) -> Token:
        return self._source()[name]

    def config(self, name: str) -> OAuth2Config:
        return self._source().config(name)

    def current(self, name: str) -> TokenSet:
        return self._source().current(name)

    def refresh_after_401(self, name: str, rejected_access_token: str) -> TokenSet | None:
        return self._source().refresh_after_401(name, rejected_access_token)


def _restore(name: str, for_httpx: bool) -> OAuth2Auth:
    """Unpickle an auth object: its name, bound to wherever it is used; the token is looked up on first use."""
    cls = _httpx_auth_class() if for_httpx else OAuth2Auth
    restored = cls.__new__(cls)
    restored.name = name
    restored.store = _CurrentDefaultSource()
    restored._placed = None
    restored._flights = {}
    return restored


@functools.cache
def _httpx_auth_class() -> type[OAuth2Auth]:
    """OAuth2Auth that httpx also accepts (httpx requires an ``httpx.Auth`` subclass); built on first use."""
    try:
        import httpx
    except ImportError:
        return OAuth2Auth

    class HttpxOAuth2Auth(OAuth2Auth, httpx.Auth):
        pass

    HttpxOAuth2Auth.__name__ = HttpxOAuth2Auth.__qualname__ = "OAuth2Auth"
    return HttpxOAuth2Auth


def auth_for(name: str, source: TokenSource | None = None) -> OAuth2Auth:
    """An auth object for ``requests`` (``auth=``) and ``httpx`` (``httpx.Client(auth=...)``, sync and async)."""
    return _httpx_auth_class()(name, source)


class _TimeoutSession(requests.Session):
    """A session whose requests time out by default (``NB_OAUTH_HTTP_TIMEOUT``), so nothing hangs forever."""

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            from ._transport import http_timeout

            kwargs["timeout"] = http_timeout()
        try:
            return super().request(method, url, *args, **kwargs)
        except requests.RequestException as exc:  # its message quotes the URL, which may carry the token
            auth = self.auth if isinstance(self.auth, OAuth2Auth) else None
            raise masked_exception(exc, auth.secrets() if auth else []) from None


def session_for(name: str, source: TokenSource | None = None) -> requests.Session:
    """A ``requests.Session`` that sends token ``name`` and keeps it fresh."""
    s = _TimeoutSession()
    s.auth = OAuth2Auth(name, source)
    return s

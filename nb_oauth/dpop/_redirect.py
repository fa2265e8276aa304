"""DPoP across redirects: each hop a client follows gets a proof for where it goes, or none.

requests and httpx copy the sent request's headers onto the next hop, so a proof signed for the first
URL would go on to the second: refused there (its ``htu`` names another URL) and, on another origin, a
signed proof sent beside a token the client has already taken off.

- requests runs the auth's response hook on each redirect before it builds the next hop from the sent
  request, so :func:`sign_next_hop` puts a proof for that hop's method and URL (worked out with
  requests' own redirect rules) on it, or takes the proof off where requests takes the token off.
- httpx follows redirects without asking the auth, so :func:`landed_elsewhere` tells the flow to send
  the last hop once more, with its own proof, when the server refused the copied one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ._key import htu
from ._resource import proof_for

if TYPE_CHECKING:
    import requests

    from .._token import TokenSet

_rules: Any = None  # a bare requests.Session, for its redirect rules only (it sends nothing)


def _redirect_rules() -> Any:  # requests.Session; its typing stubs leave should_strip_auth untyped
    global _rules
    if _rules is None:
        import requests

        _rules = requests.Session()
    return _rules


def next_hop(response: requests.Response) -> tuple[str, str, bool] | None:
    """``(method, url, token_stays)`` of the request requests sends next, or None when this is no redirect."""
    from requests.utils import requote_uri

    rules = _redirect_rules()
    location = rules.get_redirect_target(response)
    sent = response.request
    if not location or sent is None:
        return None
    if location.startswith("//"):
        location = f"{urlsplit(response.url).scheme}:{location}"
    url = requote_uri(location) if urlsplit(location).netloc else urljoin(response.url, requote_uri(location))
    probe = sent.copy()
    rules.rebuild_method(probe, response)
    return probe.method or "GET", url, not rules.should_strip_auth(sent.url or "", url)


def sign_next_hop(response: requests.Response, token_set: TokenSet) -> None:
    """Before requests follows ``response``: the proof on the request it copies is the next hop's own."""
    hop = next_hop(response)
    if hop is None or response.request is None:
        return
    method, url, token_stays = hop
    headers = response.request.headers
    proof = proof_for(token_set, method, url, token_set.access_token) if token_stays else None
    if proof is None:
        headers.pop("DPoP", None)
    else:
        headers["DPoP"] = proof


def landed_elsewhere(request: Any, response: Any) -> bool:
    """An httpx answer that came after redirects, from a hop whose method or ``htu`` differs from the request's
    (the hop carried a proof for the first URL)."""
    if not response.history:
        return False
    final = response.request
    return bool(final.method != request.method or htu(str(final.url)) != htu(str(request.url)))

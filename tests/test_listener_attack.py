"""The callback listener under hostile traffic: nothing but the real redirect may end a login.

A login waits on a loopback port that any local process (and any web page, through the
browser) can reach.  These tests throw generated and hand-made hostile requests at a waiting
listener (wrong, missing and duplicated ``state``; missing ``code``; huge URLs, headers and
bodies; bad verbs; bytes that are not HTTP; stalled, trickling and surplus connections; other
paths; markup in every parameter), then let the real redirect arrive and check that the login
still completes with the right code, that no page echoed markup, and that the port is released
afterwards.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings

import nb_oauth
from nb_oauth.demo import robot as demo_robot
from nb_oauth.redirect import listener as listener_mod
from nb_oauth.redirect.listener import MAX_CONCURRENT, SOCKET_TIMEOUT, CallbackListener

from .support import listener_client, report
from .support.listener_client import (
    INJECTIONS,
    Outcome,
    Watch,
    assert_port_released,
    code_config,
    encode,
    fire,
    listener_threads,
    reflected,
    request_bytes,
)
from .support.listener_probes import SETTINGS, Campaign, param_value, run_campaign
from .support.slow_clients import closed_by_server, hold, trickle, wait_closed, watch_in_background

#: How long the listener lets one connection live, however slowly it trickles bytes.
REQUEST_DEADLINE = getattr(listener_mod, "MAX_REQUEST_SECONDS", 10.0)

watch = listener_client.watch  # the fixture recording what every listener of a test accepted


@pytest.mark.slow
def test_hostile_traffic_then_the_real_redirect_completes(demo, watch: Watch, no_browser) -> None:
    """10,000+ hostile requests, stalls, trickles and a connection flood cannot end or hijack the login."""
    started = time.monotonic()
    flow = nb_oauth.start_flow(code_config(demo), open_browser=False)
    try:
        attack_and_finish(demo, watch, flow, started)
    finally:
        flow.cancel()  # a no-op once the login is over; otherwise frees the port at once
        if flow.redirect is not None:
            flow.redirect.close()


def attack_and_finish(demo: Any, watch: Watch, flow: nb_oauth.PendingFlow, started: float) -> None:
    """The body of the test above, so the login is always cleaned up however it ends."""
    assert flow.redirect is not None and flow.redirect.listener is not None
    listener = flow.redirect.listener
    real_state, port = flow.redirect.state, listener.port
    assert listener.host == "127.0.0.1" and listener_threads(port)

    # Slow clients, started first so they overlap the generated traffic.
    stalled = [hold(port, b""),                                                      # connects, says nothing
               hold(port, b"GET /callback?state=x HTTP/1.1\r\nHost: x\r\n"),         # headers never end
               hold(port, b"POST /callback HTTP/1.1\r\nContent-Length: 100\r\n\r\nstate=")]  # body never ends
    stall_watch = watch_in_background(stalled, 120)
    trickled: list[float | None] = []
    trickle_limit = REQUEST_DEADLINE + 4
    tricklers = [threading.Thread(target=trickle, args=(port, 0.5, trickle_limit, trickled), daemon=True)
                 for _ in range(2)]
    for t in tricklers:
        t.start()

    campaign = Campaign(port=port, path=flow.redirect.plan.path)
    run_campaign(campaign, real_state)

    stall_watch.join(SOCKET_TIMEOUT + 3)
    for t in tricklers:
        t.join(trickle_limit + 2)
    for h in stalled:
        h.sock.close()

    # A flood beyond the connection cap: the surplus is refused at once, the rest freed by the timeout.
    flood = [hold(port, b"GET /callback?state=") for _ in range(MAX_CONCURRENT + 36)]
    time.sleep(0.5)
    refused_at_once = sum(closed_by_server(h.sock) for h in flood)
    still_held = len(flood) - refused_at_once
    wait_closed(flood, SOCKET_TIMEOUT + 3)
    for h in flood:
        h.sock.close()
    campaign.fired += len(flood) + len(stalled) + len(tricklers)

    assert listener_threads(port), "the listener thread died under attack"
    alive = fire(port, request_bytes("GET", "/callback?state=wrong&code=stolen"))
    assert alive.status == 400, "the listener stopped answering after the flood"

    # Now the real redirect, with a real code from the provider.
    result = demo_robot.run(flow.authorization_url or "")
    assert result.ok, result.message
    token = flow.wait()
    assert nb_oauth.tokens["attacked"] is token
    assert nb_oauth.session("attacked").get(demo.url + "/api/me").json()["sub"] == "alice"

    accepted = watch.accepted
    report.record("listener_attack", {
        "requests_fired": campaign.fired + 2,
        "accepted": len(accepted),
        "rejected": campaign.fired + 2 - len(accepted),
        "max_concurrent_handlers": watch.max_active,
        "flood_connections": len(flood),
        "flood_refused_at_once": refused_at_once,
        "stalled_freed_after_s": max((h.closed_after or -1) for h in stalled),
        "trickle_cut_after_s": max((x if x is not None else -1) for x in trickled) if trickled else None,
        "answers_by_status": dict(sorted(campaign.statuses.items())),
        "seconds": round(time.monotonic() - started, 1),
    })

    assert campaign.fired >= 10_000
    assert not campaign.reflections, f"input reflected unescaped: {campaign.reflections[:3]}"
    assert not campaign.unanswered, f"requests left without an answer: {campaign.unanswered[:3]}"
    assert not campaign.wrongly_ok, f"hostile requests answered as success: {campaign.wrongly_ok[:3]}"
    assert len(accepted) == 1 and f"state={real_state}" in accepted[0], "only the real redirect may be accepted"
    assert all(h.closed_after is not None and h.closed_after <= SOCKET_TIMEOUT + 2 for h in stalled), \
        [h.closed_after for h in stalled]
    assert len(trickled) == len(tricklers) and all(
        x is not None and x <= REQUEST_DEADLINE + 2 for x in trickled), \
        f"a client trickling bytes kept its connection: {trickled}"
    assert watch.max_active <= MAX_CONCURRENT
    assert still_held == MAX_CONCURRENT and refused_at_once == len(flood) - MAX_CONCURRENT
    assert all(h.closed_after is not None and h.closed_after <= SOCKET_TIMEOUT + 2.5 for h in flood)
    assert_port_released(port)


def test_markup_in_a_real_error_redirect_is_escaped(watch: Watch) -> None:
    """The one page that shows provider text (an ``error`` with the right state) escapes it."""
    fired = 0

    @settings(max_examples=400, **SETTINGS)
    @given(error=param_value, description=param_value)
    def check(error: str, description: str) -> None:
        nonlocal fired
        lst = CallbackListener("s" * 32)
        status, body = lst.handle_params(encode([("state", "s" * 32), ("error", error),
                                                 ("error_description", description)]))
        fired += 1
        assert status == 200 and lst.error is not None
        assert not reflected(Outcome(200, b"", body), [error, description])

    check()
    # And once over HTTP, so the headers and the real page are covered too.
    for p in INJECTIONS:
        with CallbackListener("t" * 32) as lst:
            out = fire(lst.port, request_bytes("GET", "/callback?" + encode([("state", "t" * 32), ("error", p),
                                                                             ("error_description", p)])))
            fired += 1
            assert out.status == 200 and not reflected(out, [p])
            assert b"default-src 'none'" in out.head and b"nosniff" in out.head
            assert isinstance(lst.error, nb_oauth.AuthorizationDeniedError)
    report.record("listener_attack", {"error_page_injections": fired})

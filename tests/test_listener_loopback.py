"""The callback listener is reachable on loopback only: it binds 127.0.0.1 (or ``::1``), the machine's
outward addresses are refused for IPv4 and IPv6, a default flow listens on loopback, and the port is
released afterwards.
"""

from __future__ import annotations

import socket

import pytest

import nb_oauth
from nb_oauth.redirect.listener import CallbackListener

from .support import listener_client, report
from .support.listener_client import Watch, assert_port_released, code_config, fire, non_loopback_address, request_bytes

watch = listener_client.watch  # the fixture recording what every listener of a test accepted


def test_reachable_on_loopback_only(watch: Watch) -> None:
    """The listener binds loopback: the machine's outward address is refused, for IPv4 and IPv6."""
    checked = 0
    with CallbackListener("s" * 32) as v4:
        port = v4.port
        assert v4._server is not None and v4._server.server_address[0] == "127.0.0.1"
        assert fire(v4.port, request_bytes("GET", "/callback")).status == 200  # reachable on loopback
        outward = non_loopback_address()
        if outward is not None:
            with socket.socket() as s, pytest.raises((ConnectionRefusedError, OSError)):
                s.settimeout(3)
                s.connect((outward, v4.port))
            checked += 1
    assert_port_released(port)
    if socket.has_ipv6:
        try:
            v6 = CallbackListener("s" * 32, host="::1").start()
        except nb_oauth.ListenerError:
            v6 = None
        if v6 is not None:
            with v6:
                assert v6._server is not None and v6._server.server_address[0] == "::1"
                outward6 = non_loopback_address(socket.AF_INET6)
                if outward6 is not None:
                    with socket.socket(socket.AF_INET6) as s, pytest.raises((ConnectionRefusedError, OSError)):
                        s.settimeout(3)
                        s.connect((outward6, v6.port))
                    checked += 1
    report.record("listener_attack", {"non_loopback_addresses_refused": checked})
    if checked == 0:
        pytest.skip("this machine has no non-loopback address to try")


def test_the_default_flow_binds_loopback_only(demo, no_browser) -> None:
    """A flow with no Callback URL listens on 127.0.0.1, never on every interface."""
    flow = nb_oauth.start_flow(code_config(demo), open_browser=False)
    try:
        assert flow.redirect is not None and flow.redirect.listener is not None
        lst = flow.redirect.listener
        port = lst.port
        assert lst._server is not None and lst._server.server_address[0] == "127.0.0.1"
        assert flow.redirect.redirect_uri.startswith(f"http://127.0.0.1:{lst.port}/")
    finally:
        flow.cancel()
        with pytest.raises(nb_oauth.FlowCancelledError):
            flow.wait()
    assert_port_released(port)

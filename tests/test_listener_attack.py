"""The callback listener under hostile traffic: nothing but the real redirect may end a login.

A login waits on a loopback port that any local process (and any web page, through the
browser) can reach.  These tests throw generated and hand-made hostile requests at a waiting
listener (wrong, missing and duplicated ``state``; missing ``code``; huge URLs, headers and
bodies; bad verbs; bytes that are not HTTP; stalled, trickling and surplus connections; other
paths; markup in every parameter), then let the real redirect arrive and check that the login
still completes with the right code, that no page echoed markup, that the port is reachable
only on loopback, and that it is released afterwards.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.demo import PUBLIC_CLIENT_ID
from nb_oauth.demo import robot as demo_robot
from nb_oauth.redirect import listener as listener_mod
from nb_oauth.redirect.listener import (
    MAX_BODY,
    MAX_CONCURRENT,
    SOCKET_TIMEOUT,
    CallbackListener,
)

from .support import report

#: Every injected payload carries this marker, so a reflection is easy to spot.
MARK = "nbxq7"
INJECTIONS = (
    f"<script>alert('{MARK}')</script>",
    f"\"><script>{MARK}</script>",
    f"'><img src=x onerror=alert('{MARK}')>",
    f"</title><script>{MARK}</script>",
    f"<svg/onload={MARK}>",
    f"javascript:alert('{MARK}')//<b>",
    f"<iframe src=//evil/{MARK}></iframe>",
    f"{{{{7*7}}}}<{MARK}>",
)
FINISHING_KEYS = ("code", "access_token", "id_token", "error")
#: How long the listener lets one connection live, however slowly it trickles bytes.
REQUEST_DEADLINE = getattr(listener_mod, "MAX_REQUEST_SECONDS", 10.0)
SETTINGS = dict(deadline=None, database=None, derandomize=False,
                suppress_health_check=list(HealthCheck))


# -- a tiny raw HTTP client ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What came back on one connection: the status (None for no status line), the body, a reset."""

    status: int | None
    head: bytes
    body: bytes
    reset: bool = False

    @property
    def answered(self) -> bool:
        return bool(self.head or self.body)


def fire(port: int, raw: bytes, *, host: str = "127.0.0.1", timeout: float = 15.0) -> Outcome:
    """Send ``raw`` on a fresh connection, half-close, and read until the server closes."""
    chunks: list[bytes] = []
    reset = False
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            try:
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
            except OSError:  # the server answered early and reset: it refused the rest
                reset = True
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
    except (ConnectionResetError, BrokenPipeError):
        reset = True
    data = b"".join(chunks)
    head, _sep, body = data.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/\d\.\d (\d{3})", head)
    if not match:  # an HTTP/0.9-style answer is a bare body
        return Outcome(None, b"", data, reset)
    return Outcome(int(match.group(1)), head, body, reset)


def reflected(outcome: Outcome, payloads: list[str]) -> list[str]:
    """Injected payloads that came back verbatim (unescaped) in the answer."""
    text = (outcome.head + b"\r\n\r\n" + outcome.body).decode("utf-8", "replace")
    hits = [p for p in payloads if MARK in p and p in text]
    if re.search(rf"<(script|img|svg|iframe)[^>]*{MARK}|<{MARK}>", text):
        hits.append("raw marker markup")
    return hits


# -- instrumentation ----------------------------------------------------------------------------------


@dataclass
class Watch:
    """What the listener did: every ``handle_params`` answer, and how many handlers ran at once."""

    answers: list[tuple[str, int]] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def accepted(self) -> list[str]:
        with self.lock:
            return [q for q, status in self.answers if status == 200]


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    """Record accepted redirects and concurrent handlers of every listener started in the test."""
    w = Watch()
    original_params = CallbackListener.handle_params
    original_handle = listener_mod._Handler.handle

    def handle_params(self: CallbackListener, query: str, *, via_fragment: bool = False) -> tuple[int, bytes]:
        status, body = original_params(self, query, via_fragment=via_fragment)
        with w.lock:
            w.answers.append((query, status))
        return status, body

    def handle(self: listener_mod._Handler) -> None:
        with w.lock:
            w.active += 1
            w.max_active = max(w.max_active, w.active)
        try:
            original_handle(self)
        finally:
            with w.lock:
                w.active -= 1

    monkeypatch.setattr(CallbackListener, "handle_params", handle_params)
    monkeypatch.setattr(listener_mod._Handler, "handle", handle)
    return w


def listener_threads(port: int | None = None) -> list[str]:
    names = [t.name for t in threading.enumerate() if t.name.startswith("nb_oauth-listener")]
    return [n for n in names if port is None or n == f"nb_oauth-listener-{port}"]


def non_loopback_address(family: socket.AddressFamily = socket.AF_INET) -> str | None:
    """This machine's address on its outward interface (a UDP connect sends nothing)."""
    probes = ("10.255.255.255", "192.0.2.255") if family == socket.AF_INET else ("2001:db8::1", "fd00::ffff")
    address = None
    for probe in probes:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                address = s.getsockname()[0]
                break
        except OSError:
            continue
    if family == socket.AF_INET and (not address or address.startswith("127.")):
        with contextlib.suppress(OSError):
            address = socket.gethostbyname(socket.gethostname())
    if not address or address.startswith("127.") or address in ("::1", "0.0.0.0", "::"):
        return None
    return address


def assert_port_released(port: int, host: str = "127.0.0.1") -> None:
    """Nobody listens any more, and a new listener can bind the very same port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s, pytest.raises(ConnectionRefusedError):
        s.settimeout(5)
        s.connect((host, port))
    again = CallbackListener("x" * 32, host=host, port=port).start()
    try:
        assert again.port == port
    finally:
        again.close()
    assert not listener_threads(port)


# -- generated traffic --------------------------------------------------------------------------------

text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
payload = st.sampled_from(INJECTIONS)
param_value = st.one_of(text, payload)
param_key = st.one_of(st.sampled_from(["code", "state", "error", "error_description", "access_token", "id_token",
                                       "iss", "scope", "token_type", "session_state", "redirect_uri"]),
                      text.filter(bool), payload)
#: Requests per Hypothesis example: fired together, so connections overlap and generation cost is shared.
BATCH = 16


def near_misses(real: str) -> st.SearchStrategy[str]:
    """Values close to the real state that must still be refused."""
    i = st.integers(0, len(real) - 1)
    return st.one_of(
        i.map(lambda k: real[:k] + ("A" if real[k] != "A" else "B") + real[k + 1:]),  # one character flipped
        i.map(lambda k: real[:k]),                                                      # truncated
        st.sampled_from(["", " ", real + " ", " " + real, real + "\x00", real.swapcase(), real + real,
                         real[::-1] + "r", real + "\u200b", real.replace("-", "\u2010") + "x"]),
        text.filter(lambda v: v != real),
        payload,
    )


def encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


@st.composite
def redirect_params(draw: st.DrawFn, real: str) -> list[tuple[str, str]]:
    """Redirect parameters with a bad ``state`` story: wrong, missing, duplicated, or right but without a code."""
    others = draw(st.lists(st.tuples(param_key, param_value), max_size=6))
    story = draw(st.sampled_from(["wrong", "missing", "duplicated", "right_and_wrong", "right_without_code",
                                  "wrong_with_code"]))
    if story in ("duplicated", "right_and_wrong"):
        states = [real, real] if story == "duplicated" else draw(st.permutations([real, draw(near_misses(real))]))
    else:
        others = [(k, v) for k, v in others if k != "state"]
        if story == "missing":
            states = []
        elif story == "right_without_code":
            states = [real]
            others = [(k, v) for k, v in others if k not in FINISHING_KEYS]
        else:
            states = [draw(near_misses(real))]
            if story == "wrong_with_code":
                others = [("code", draw(st.text(min_size=1, max_size=20))), *others]
    return draw(st.permutations(others + [("state", s) for s in states]))


@dataclass(frozen=True)
class Probe:
    """One hostile request and what its answer may look like."""

    raw: bytes
    payloads: tuple[str, ...] = ()
    must_answer: bool = True  # a well-formed enough request gets an answer (or an early reset)
    may_be_relay: bool = False  # the bare callback path answers 200 with the relay page
    only_relay_path: bool = False  # a 200 must come from the bare callback path


def request_bytes(method: str, target: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b"",
                  version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {target} {version}".rstrip(), *(f"{k}: {v}" for k, v in headers)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def flat(pairs: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(v for kv in pairs for v in kv)


@st.composite
def redirect_probes(draw: st.DrawFn, real: str, path: str) -> Probe:
    """The callback path with bad parameters, in the query, in a relayed POST body, or both."""
    params = draw(redirect_params(real))
    how = draw(st.sampled_from(["GET", "HEAD", "POST", "POST+query"]))
    target = path + ("/" if draw(st.booleans()) else "")
    encoded = encode(params)
    if how in ("GET", "HEAD"):
        raw = request_bytes(how, f"{target}?{encoded}" if encoded else target, [("Host", "127.0.0.1")])
        return Probe(raw, flat(params), may_be_relay=not encoded)
    query = f"?{encode([('state', real)])}" if how == "POST+query" else ""  # the body is what counts
    raw = request_bytes("POST", target + query,
                        [("Host", "127.0.0.1"), ("Content-Type", "application/x-www-form-urlencoded")],
                        encoded.encode())
    return Probe(raw, flat(params))


@st.composite
def malformed_probes(draw: st.DrawFn, real: str, path: str) -> Probe:
    """Bad verbs, other paths, odd versions, hostile headers, bytes that are not HTTP, bad Content-Length."""
    kind = draw(st.sampled_from(["verb", "path", "version", "headers", "bytes", "content-length"]))
    params = draw(redirect_params(real))
    query = encode(params)
    target = f"{path}?{query}" if query else path
    if kind == "verb":
        verb = draw(st.one_of(
            st.sampled_from(["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "get", "G E T",
                             "GET\x00", "POST\t"]),
            st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12),
            payload.map(lambda p: p.replace(" ", ""))))
        return Probe(request_bytes(verb, target, [("Host", "x")]), (*flat(params), verb), may_be_relay=not query)
    if kind == "path":
        other = draw(st.one_of(
            st.sampled_from(["/", "/favicon.ico", "/callbac", path + "x", path + "/../" + path, "//evil.example" + path,
                             "http://evil.example" + path, "*", "/robots.txt", "/%2e%2e/etc/passwd", path.upper()]),
            text.map(lambda t: "/" + quote(t, safe="/?&=#")), payload.map(lambda p: "/" + quote(p))))
        return Probe(request_bytes("GET", other, [("Host", "x")]), (other,), may_be_relay=True, only_relay_path=True)
    if kind == "version":
        version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "", "HTTP/2.0", "HTTP/9.9", "HTTPS/1.1", "http/1.1",
                                        "HTTP/1.1 extra"]))
        return Probe(request_bytes("GET", target, [("Host", "x")], version=version), flat(params),
                     may_be_relay=not query)
    if kind == "headers":
        name = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1,
                       max_size=20)
        headers = draw(st.lists(st.tuples(name, param_value.map(lambda v: v.replace("\r", "").replace("\n", ""))),
                                max_size=8))
        return Probe(request_bytes("GET", target, headers), flat(params) + flat(headers), may_be_relay=not query)
    if kind == "bytes":
        return Probe(draw(st.binary(max_size=300)), must_answer=False)
    length = draw(st.sampled_from(["-1", "abc", "1e3", str(10**12), "", "0x10", "+5", "5 5", str(MAX_BODY + 1)]))
    raw = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode() + query.encode()[:50]
    return Probe(raw, flat(params))


@st.composite
def oversized_probes(draw: st.DrawFn, path: str) -> Probe:
    """More than the listener reads: URLs, header lines, header counts and bodies over 64 KiB."""
    kind = draw(st.sampled_from(["url", "header", "headers", "fields", "body", "body-declared"]))
    size = draw(st.integers(MAX_BODY + 1, 3 * MAX_BODY))
    inject = draw(payload)
    unit = quote(inject, safe="")
    filler = (unit * (size // len(unit) + 1))[:size]
    if kind == "url":
        raw = request_bytes("GET", f"{path}?state={filler}&code=x")
    elif kind == "header":
        raw = request_bytes("GET", f"{path}?state=x&code=y", [("X-Big", filler)])
    elif kind == "headers":
        raw = request_bytes("GET", f"{path}?code=y", [(f"X-H{i}", inject.replace(" ", "")) for i in range(150)])
    elif kind == "fields":  # more query fields than any redirect carries
        raw = request_bytes("GET", f"{path}?" + "&".join(f"f{i}={unit}" for i in range(150)) + "&state=x&code=y")
    elif kind == "body":
        raw = request_bytes("POST", path, [("Content-Type", "application/x-www-form-urlencoded")],
                            f"state={filler}&code=x".encode())
    else:
        raw = f"POST {path} HTTP/1.1\r\nContent-Length: {size}\r\n\r\n".encode()
    return Probe(raw, (inject,))


@st.composite
def abort_probes(draw: st.DrawFn, real: str, path: str) -> Probe:
    """Cancel links without this login's state (or with too many fields) must not cancel it."""
    pairs = list(draw(redirect_params(real)))
    if [v for k, v in pairs if k == "state"] == [real]:  # the one cancel link that is allowed to work
        pairs = [(k, v) for k, v in pairs if k != "state"]
    if draw(st.booleans()):  # more fields than a cancel link ever has
        pairs += [(f"f{i}", "1") for i in range(30)] + [("state", "wrong")]
    abort = (path.rstrip("/") or "") + "/abort"
    return Probe(request_bytes("GET", f"{abort}?{encode(pairs)}", [("Host", "x")]), flat(pairs))


@dataclass
class Campaign:
    """Counts for the report and the failures found, checked once at the end."""

    port: int
    path: str
    fired: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    reflections: list[str] = field(default_factory=list)
    unanswered: list[bytes] = field(default_factory=list)
    wrongly_ok: list[bytes] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, probe: Probe) -> Outcome:
        out = fire(self.port, probe.raw)
        key = str(out.status) if out.status is not None else ("reset" if out.reset else
                                                              ("bare" if out.body else "closed"))
        wrong = b"Login complete" in out.body or (out.status == 200 and not probe.may_be_relay)
        if out.status == 200 and probe.only_relay_path:
            target = probe.raw.split(b" ", 2)[1].decode("latin-1")
            parts = urlsplit(target)
            wrong = wrong or bool(parts.query) or (parts.path.rstrip("/") or "/") != self.path.rstrip("/")
        with self.lock:
            self.fired += 1
            self.statuses[key] = self.statuses.get(key, 0) + 1
            if reflected(out, list(probe.payloads)):
                self.reflections.append(probe.raw[:300].decode("latin-1"))
            if probe.must_answer and not out.answered and not out.reset:
                self.unanswered.append(probe.raw[:300])
            if wrong:
                self.wrongly_ok.append(probe.raw[:300])
        return out

    def send_all(self, pool: ThreadPoolExecutor, probes: list[Probe]) -> None:
        for future in [pool.submit(self.send, p) for p in probes]:
            future.result()


def run_campaign(c: Campaign, real: str) -> None:
    """Generated requests of every kind, in batches fired over a few connections at once."""
    path = c.path
    with ThreadPoolExecutor(4) as pool:

        def batches(strategy: st.SearchStrategy[Probe], examples: int) -> None:
            @settings(max_examples=examples, **SETTINGS)
            @given(batch=st.lists(strategy, min_size=BATCH, max_size=BATCH))
            def attack(batch: list[Probe]) -> None:
                c.send_all(pool, batch)

            attack()

        batches(redirect_probes(real, path), 350)
        batches(malformed_probes(real, path), 225)
        batches(oversized_probes(path), 15)
        batches(abort_probes(real, path), 45)


# -- slow, stalled and surplus connections --------------------------------------------------------------


@dataclass
class Held:
    """A connection the test keeps open; ``closed_after`` is when the server let go of it."""

    sock: socket.socket
    opened: float
    closed_after: float | None = None


def closed_by_server(s: socket.socket) -> bool:
    """True once the server has closed (or reset) the connection, without blocking."""
    readable, _, _ = select.select([s], [], [], 0)
    if not readable:
        return False
    try:
        while True:
            data = s.recv(65536, getattr(socket, "MSG_DONTWAIT", 0))
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def hold(port: int, first: bytes) -> Held:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if first:
        s.sendall(first)
    return Held(s, time.monotonic())


def wait_closed(conns: list[Held], limit: float) -> None:
    """Poll until the server has closed every connection (or ``limit`` passes); note when each went."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(h.closed_after is None for h in conns):
        for h in conns:
            if h.closed_after is None and closed_by_server(h.sock):
                h.closed_after = time.monotonic() - h.opened
        time.sleep(0.05)


def watch_in_background(conns: list[Held], limit: float) -> threading.Thread:
    thread = threading.Thread(target=wait_closed, args=(conns, limit), daemon=True)
    thread.start()
    return thread


def trickle(port: int, every: float, give_up: float, out: list[float | None]) -> None:
    """Send a request one byte at a time, never finishing it; note when the server cut it off."""
    started = time.monotonic()
    stream = b"GET /callback?state=" + b"a" * 100_000
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            for i in range(len(stream)):
                if time.monotonic() - started > give_up:
                    out.append(None)
                    return
                try:
                    s.send(stream[i:i + 1])
                except OSError:
                    out.append(time.monotonic() - started)
                    return
                if closed_by_server(s):
                    out.append(time.monotonic() - started)
                    return
                time.sleep(every)
    except OSError:
        out.append(time.monotonic() - started)


# -- the tests ------------------------------------------------------------------------------------------


def code_config(demo, **kw: object) -> OAuth2Config:
    base: dict[str, object] = dict(token_name="attacked", grant_type="authorization_code_with_pkce",
                                   auth_url=demo.url + "/authorize", access_token_url=demo.url + "/token",
                                   client_id=PUBLIC_CLIENT_ID, scope="profile items:read",
                                   authorize_using_browser=False, callback_timeout=180)
    base.update(kw)
    return OAuth2Config(**base)  # type: ignore[arg-type]


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

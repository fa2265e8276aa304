"""Generated hostile traffic for a waiting callback listener (Hypothesis strategies): redirects with a bad
``state`` story, malformed and oversized requests, cancel links without the login's state; and the campaign
that fires them in overlapping batches and collects what came back wrong.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nb_oauth.redirect.listener import MAX_BODY

from .listener_client import INJECTIONS, Outcome, encode, fire, flat, reflected, request_bytes

#: The redirect parameters that end a login when the state is right.
FINISHING_KEYS = ("code", "access_token", "id_token", "error")
#: Hypothesis settings for every generated check: no deadline, no example database, every health check off.
SETTINGS = dict(deadline=None, database=None, derandomize=False,
                suppress_health_check=list(HealthCheck))

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


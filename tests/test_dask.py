"""The kernel's tokens on a real Dask LocalCluster with worker processes: ``nb_oauth.dask``.

The kernel is the one refresh authority: the demo server (which rotates refresh tokens, so a
second refresh with a spent one fails) counts the refresh requests it receives; workers hold
only access tokens, which the tests check by reading the worker processes' memory.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, DEMO_USERS

from .support import dask_tasks as tasks
from .support.process_memory import found_in_memory

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow

PASSWORD = DEMO_USERS["alice"]


@pytest.fixture(scope="module")
def server():
    """A demo server of this module's own; tests set the lifetime of the tokens it issues."""
    from nb_oauth.demo import DemoServer

    srv = DemoServer(port=0, access_token_lifetime=300).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=4, processes=True, dashboard_address=None,
                                  worker_dashboard_address=None) as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster) -> Iterator[Any]:
    with distributed.Client(cluster) as c:
        yield c


def login(server, lifetime: int, **changes: Any) -> tuple[str, nb_oauth.Token]:
    """A fresh token under a fresh name (the password grant gives a refresh token), issued for ``lifetime`` s."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    fields: dict[str, Any] = dict(token_name=name, grant_type="password_credentials",
                                  access_token_url=server.url + "/token", client_id=CONFIDENTIAL_CLIENT_ID,
                                  client_secret=CONFIDENTIAL_CLIENT_SECRET, username="alice", password=PASSWORD,
                                  scope="profile items:read")
    fields.update(changes)
    server.settings.access_token_lifetime = lifetime
    return name, nb_oauth.get_new_access_token(OAuth2Config(**fields))


def refreshes(server) -> int:
    return server.stats["token:refresh_token"]


def workers(client) -> list[str]:
    return sorted(client.scheduler_info()["workers"])


def test_import_nb_oauth_does_not_import_dask() -> None:
    code = ("import sys, nb_oauth; assert 'distributed' not in sys.modules and 'dask' not in sys.modules; "
            "m = nb_oauth.dask; assert 'distributed' in sys.modules; print(m.share.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "nb_oauth.dask"


def test_fan_out_across_expiries_makes_one_refresh_per_expiry(server, client) -> None:
    name, token = login(server, lifetime=2)
    first_refresh_token = token.refresh_token
    nb_oauth.dask.share(client, name)
    before, started = refreshes(server), time.monotonic()
    api = server.url + "/api/me"
    results: list[tuple[int, int, int]] = []
    for _ in range(100):  # until three expiries of the 2-second token have passed
        results += client.gather(client.map(tasks.get_many, [api] * 16, [name] * 16, [10] * 16, pure=False))
        if nb_oauth.tokens.refresh_count(name) >= 3:
            break
    elapsed = time.monotonic() - started
    nb_oauth.dask.unshare(client, name)  # the kernel stops refreshing it: the counts below stay still
    time.sleep(0.2)
    sent = refreshes(server) - before
    assert nb_oauth.tokens.refresh_count(name) >= 3  # the calls crossed three expiries
    assert sum(r[1] for r in results) == 0  # no failed call, across every expiry
    # Every refresh the server saw came from the kernel's store and succeeded (the server rotates refresh
    # tokens, so a second use of one would have failed a refresh and shown up as failed calls).
    assert sent == nb_oauth.tokens.refresh_count(name)
    # One refresh per expiry: a token is due 0.8 x 2 s after it was issued, so there cannot be more.
    assert sent <= elapsed / 1.6 + 1
    assert nb_oauth.tokens[name].refresh_token != first_refresh_token  # rotation was on


def test_a_401_mid_run_makes_one_refresh_and_fails_no_call(server, client) -> None:
    name, _ = login(server, lifetime=300)  # no expiry during the test: only the revocation causes refreshes
    nb_oauth.dask.share(client, name)
    stop = f"stop-{name}"
    before = refreshes(server)
    futures = client.map(tasks.get_until, [server.url + "/api/me"] * 8, [name] * 8, [stop] * 8, pure=False)
    time.sleep(1.0)
    server.revoke_all_access_tokens()  # every worker's next call gets a 401
    time.sleep(1.5)
    distributed.Event(stop, client=client).set()
    results = client.gather(futures)
    assert sum(r[1] for r in results) == 0
    assert sum(r[2] for r in results) >= 1  # calls were rescued by the retry: the 401 came mid-run
    assert refreshes(server) - before == 1  # 8 threads on 2 workers got the 401: one refresh
    nb_oauth.dask.unshare(client, name)


def test_unshare_makes_worker_calls_fail_with_a_clear_error(server, client) -> None:
    name, _ = login(server, lifetime=300)
    api = server.url + "/api/me"
    nb_oauth.dask.share(client, name)
    assert client.submit(tasks.get_many, api, name, 2, pure=False).result() == (2, 0, 0)
    assert nb_oauth.dask.unshare(client, name) is True
    assert nb_oauth.dask.unshare(client, name) is False  # nothing left to do
    for worker in workers(client):
        with pytest.raises(nb_oauth.OAuthError) as err:
            client.submit(tasks.get_many, api, name, 1, workers=[worker], pure=False).result()
        assert repr(name) in str(err.value) and "unshared" in str(err.value)
        assert not isinstance(err.value, KeyError)
    nb_oauth.dask.share(client, name)  # and it can be shared again
    assert client.submit(tasks.get_many, api, name, 2, pure=False).result() == (2, 0, 0)
    nb_oauth.dask.unshare(client, name)


def test_a_refresh_racing_with_unshare_does_not_share_the_token_again(server, client) -> None:
    """The refresh timer and a worker's question may run just after ``unshare``: neither sends the token out."""
    from nb_oauth.dask._kernel import hub_for

    name, _ = login(server, lifetime=300)
    api = server.url + "/api/me"
    nb_oauth.dask.share(client, name)
    hub = hub_for(client, create=False)
    assert hub is not None
    nb_oauth.tokens.renew(name, nb_oauth.tokens[name].access_token)  # a new token the workers have not seen
    nb_oauth.dask.unshare(client, name)
    hub._refresh_if_due(name)  # what the timer does with the names it listed just before unshare
    hub._sync(name, {}, None)
    assert nb_oauth.dask.shared(client) == []
    for worker in workers(client):
        with pytest.raises(nb_oauth.OAuthError) as err:
            client.submit(tasks.get_many, api, name, 1, workers=[worker], pure=False).result()
        assert "unshared" in str(err.value)


def test_a_name_never_shared_is_an_oauth_error_on_the_worker(server, client) -> None:
    other, _ = login(server, lifetime=300)
    nb_oauth.dask.share(client, other)  # the workers run nb_oauth's plugin
    kind, message, _ = client.submit(tasks.call_error, server.url + "/api/me", "never-shared", 5,
                                     pure=False).result()
    assert tasks.is_oauth_error(kind) and "'never-shared' is not shared" in message
    nb_oauth.dask.unshare(client, other)


def test_when_the_kernel_is_gone_workers_fail_clearly_and_soon(server, cluster, client) -> None:
    name, _ = login(server, lifetime=300)
    kernel = distributed.Client(cluster)  # the "kernel": it shares, then disconnects
    nb_oauth.dask.share(kernel, name)
    api = server.url + "/api/me"
    assert client.submit(tasks.get_many, api, name, 2, pure=False).result() == (2, 0, 0)
    kernel.close()
    kind, message, _ = client.submit(tasks.call_error, api, name, 30, pure=False).result()
    assert tasks.is_oauth_error(kind), (kind, message)
    assert repr(name) in message and "left the cluster" in message


def test_a_name_shared_by_another_client_is_refused_and_the_first_keeps_working(server, cluster, client) -> None:
    """A task asks for a token by name only: a second kernel sharing the same name would hand the first
    kernel's tasks its own token. It is refused, and the first kernel's copies stay as they were."""
    name, _ = login(server, lifetime=300)
    api = server.url + "/api/me"
    nb_oauth.dask.share(client, name)
    with distributed.Client(cluster) as second:
        with pytest.raises(nb_oauth.dask.SharingError) as err:
            nb_oauth.dask.share(second, name)
        assert "already shared with this Dask cluster by another client" in str(err.value)
        assert "another token_name" in str(err.value.fix)
        assert nb_oauth.dask.shared(second) == []
        for worker in workers(client):  # the refused share withdrew nothing of the first kernel's
            assert client.submit(tasks.get_many, api, name, 2, workers=[worker], pure=False).result() == (2, 0, 0)
        nb_oauth.dask.unshare(client, name)
        nb_oauth.dask.share(second, name)  # once the first has let go, the name is free
        for worker in workers(second):
            assert second.submit(tasks.get_many, api, name, 1, workers=[worker], pure=False).result() == (1, 0, 0)
        nb_oauth.dask.unshare(second, name)


def test_a_refresh_failure_reaches_the_workers_as_the_same_refresh_error(server, client) -> None:
    name, _ = login(server, lifetime=2)
    server.fail_next_token_requests(1000, status=400, body={"error": "invalid_grant",
                                                            "error_description": "The grant was revoked."})
    try:
        nb_oauth.dask.share(client, name)
        time.sleep(2.2)  # the token has expired and cannot be renewed
        with pytest.raises(nb_oauth.RefreshError) as on_worker:
            client.submit(tasks.get_many, server.url + "/api/me", name, 1, pure=False).result()
        with pytest.raises(nb_oauth.RefreshError) as in_kernel:
            nb_oauth.tokens.current(name)
        again = client.submit(tasks.errors_of, server.url + "/api/me", name, 20, pure=False).result()
    finally:
        server.fail_next_token_requests(0)
    assert "invalid_grant" in str(on_worker.value)
    assert str(on_worker.value) == str(in_kernel.value)
    assert set(again) == {"RefreshError"}
    # Right after a failure a worker does not ask the kernel again on every call (the kernel, likewise,
    # does not ask the server): 21 failed calls, a handful of questions.
    from nb_oauth.dask._wire import topic_for

    asks = [m for _, m in client.get_events(topic_for(client.id))
            if m.get("op") == "ask" and m.get("name") == name and m.get("why") == "expired"]
    assert 1 <= len(asks) <= 6
    nb_oauth.dask.unshare(client, name)


def test_httpx_on_workers_sync_async_and_a_pickled_auth(server, client) -> None:
    name, _ = login(server, lifetime=2)
    nb_oauth.dask.share(client, name)
    before = refreshes(server)
    api = server.url + "/api/me"
    out = [client.submit(tasks.httpx_calls, api, name, 5, nb_oauth.auth(name), pure=False).result()]
    time.sleep(2.1)  # across an expiry
    out.append(client.submit(tasks.httpx_calls, api, name, 5, nb_oauth.auth(name), pure=False).result())
    assert out == [(5, 5, 5), (5, 5, 5)]
    assert refreshes(server) - before >= 1
    nb_oauth.dask.unshare(client, name)


def test_pickled_session_and_auth_carry_the_name_and_no_secret(server, client) -> None:
    name, token = login(server, lifetime=300)
    nb_oauth.dask.share(client, name)
    api = server.url + "/api/me"
    session, auth = nb_oauth.session(name), nb_oauth.auth(name)
    session.get(api)  # the auth object has placed (and cached) the token at least once
    secrets = [token.access_token, token.refresh_token, CONFIDENTIAL_CLIENT_SECRET, PASSWORD]
    import dask

    graph = dask.delayed(tasks.get_with)(api, session)
    blobs = [pickle.dumps(session), pickle.dumps(auth), cloudpickle.dumps(lambda: session.get(api)),
             cloudpickle.dumps(dict(graph.__dask_graph__()))]
    for blob in blobs:
        assert name.encode() in blob
        assert not [s for s in secrets if s and s.encode() in blob]
    for pickled in (lambda: pickle.dumps(token), lambda: cloudpickle.dumps(lambda t=token: t.access_token)):
        with pytest.raises(TypeError, match=r"nb_oauth\.session") as err:  # the Token itself: refused, saying what to use
            pickled()
        assert not [s for s in secrets if s and s in str(err.value)]
    assert graph.compute() == 200
    assert client.submit(tasks.get_with, api, auth, pure=False).result() == 200
    nb_oauth.dask.unshare(client, name)


def test_no_secret_in_worker_memory(server, client) -> None:
    name, token = login(server, lifetime=2)
    secrets = {"first refresh token": token.refresh_token, "client secret": CONFIDENTIAL_CLIENT_SECRET,
               "password": PASSWORD}
    nb_oauth.dask.share(client, name)
    api = server.url + "/api/me"
    client.gather(client.map(tasks.get_many, [api] * 8, [name] * 8, [5] * 8, pure=False))
    server.settings.access_token_lifetime = 300  # the kernel's next refresh gives a token that stays
    deadline = time.monotonic() + 30
    while nb_oauth.tokens.refresh_count(name) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert nb_oauth.tokens.refresh_count(name) >= 1  # a refresh happened while shared: a new refresh token too
    client.gather(client.map(tasks.get_many, [api] * 8, [name] * 8, [5] * 8, pure=False))
    secrets["current refresh token"] = nb_oauth.tokens[name].refresh_token
    current_access = nb_oauth.tokens[name].access_token
    for pid in client.run(tasks.pid).values():
        found = found_in_memory(pid, {**secrets, "access token": current_access})
        assert "access token" in found  # the scan does see what a worker holds
        assert found == {"access token"}, f"worker {pid} holds: {sorted(found - {'access token'})}"
    nb_oauth.dask.unshare(client, name)


def test_a_worker_that_joins_later_gets_the_shared_token(server, cluster, client) -> None:
    name, _ = login(server, lifetime=300)
    nb_oauth.dask.share(client, name)
    old = set(workers(client))
    cluster.scale(3)
    try:
        client.wait_for_workers(3, timeout=120)
        (new,) = set(workers(client)) - old
        assert client.submit(tasks.get_many, server.url + "/api/me", name, 3, workers=[new],
                             pure=False).result() == (3, 0, 0)
    finally:
        cluster.scale(2)
        deadline = time.monotonic() + 60
        while len(workers(client)) > 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    nb_oauth.dask.unshare(client, name)


def test_share_refuses_bad_input_clearly(server, cluster, client) -> None:
    with pytest.raises(nb_oauth.OAuthError, match="no token named 'nope'"):
        nb_oauth.dask.share(client, "nope")
    name, _ = login(server, lifetime=300)
    with pytest.raises(nb_oauth.OAuthError, match=r"needs a dask\.distributed Client"):
        nb_oauth.dask.share(cluster, name)
    closed = distributed.Client(cluster)
    closed.close()
    with pytest.raises(nb_oauth.OAuthError, match="not connected"):
        nb_oauth.dask.share(closed, name)
    nb_oauth.dask.share(client, name)
    nb_oauth.dask.share(client, name)  # twice: harmless
    assert name in nb_oauth.dask.shared(client)
    assert client.submit(tasks.get_many, server.url + "/api/me", name, 2, pure=False).result() == (2, 0, 0)
    nb_oauth.dask.unshare(client, name)


def test_a_dpop_bound_token_is_refused_with_the_reason(server, client) -> None:
    from nb_oauth._token import TokenSet

    cfg = OAuth2Config(token_name="bound", grant_type="client_credentials", access_token_url=server.url + "/token",
                       client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET)
    nb_oauth.tokens.put(cfg, TokenSet(access_token="bound-access-token-value", token_type="DPoP"))
    with pytest.raises(nb_oauth.OAuthError, match="DPoP-bound") as err:
        nb_oauth.dask.share(client, "bound")
    assert "private key" in str(err.value) and "bound-access-token-value" not in str(err.value)


def test_workers_never_see_a_partial_token_set() -> None:
    """Readers on many threads while the kernel's copies arrive: token, expiry and config always match."""
    from nb_oauth.dask._wire import Parcel
    from nb_oauth.dask._worker import WorkerSource

    source = WorkerSource(None)

    def payload(v: int) -> dict[str, Any]:
        return {"version": v, "access_token": f"token-{v}", "id_token": None, "token_type": "Bearer",
                "scope": f"scope-{v}", "seconds_left": 1000.0 + v, "lifetime": 2000.0 + v,
                "config": {"token_name": "x", "add_token_to": "header", "header_prefix": f"P{v}",
                           "use_token_type": "access_token", "auto_refresh": True, "refresh_leeway": 1.0}}

    source.receive("hub", Parcel({"x": payload(1)}, {}), snapshot=True)
    mismatches: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            ts = source.current("x")
            v = int(ts.access_token.split("-")[1])
            if ts.scope != f"scope-{v}" or abs(ts.lifetime - (2000.0 + v)) > 1e-3:  # type: ignore[operator]
                mismatches.append(ts.access_token)

    readers = [threading.Thread(target=read) for _ in range(8)]
    for r in readers:
        r.start()
    for v in range(2, 3000):
        source.receive("hub", Parcel({"x": payload(v)}, {}))
    source.receive("hub", Parcel({"x": payload(1)}, {}))  # an older copy arriving late changes nothing
    done.set()
    for r in readers:
        r.join()
    assert mismatches == []
    assert source.current("x").access_token == "token-2999"

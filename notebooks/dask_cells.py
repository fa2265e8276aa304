"""The cells of dask-fan-out.ipynb: one kernel's token on a Dask cluster."""

from __future__ import annotations

from _cells import code, md

DASK = [
    md("""
# Fanning out API calls on a Dask cluster

10,000 API calls from a Dask cluster with one short-lived token. The kernel stays the one
refresh authority: it refreshes the token before it expires and sends the new **access token**
to every worker. The refresh token, the client secret and the password never leave this
kernel, and however many workers find the token expiring, one refresh request goes out.

Needs `pip install 'nb_oauth[dask]'`. Everything runs on this machine: a `LocalCluster` with two
worker processes and the embedded demo authorization server, here issuing tokens that live
**3 seconds**, so the run below crosses several expiries.
"""),
    code("%load_ext nb_oauth"),
    code('''
import time

import nb_oauth
from dask.distributed import Client, LocalCluster
from nb_oauth.demo import DEMO_USERS, DemoServer
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET as DEMO_SECRET

demo = DemoServer(access_token_lifetime=3).start()   # tokens that live 3 seconds
DEMO = demo.url
ALICE_PASSWORD = DEMO_USERS["alice"]
print("Demo authorization server:", DEMO)
'''),
    md("""
A token in the kernel, as usual. The password grant gives a refresh token, and the demo server
**rotates** refresh tokens: each refresh returns a new one and the old one stops working, so two
refreshes with the same refresh token would break the grant. Secrets come in through `{{...}}`
placeholders, filled from this kernel's variables.
"""),
    code('''
token = nb_oauth.get_new_access_token(nb_oauth.OAuth2Config(
    token_name="demo", grant_type="password_credentials", access_token_url=DEMO + "/token",
    client_id=CONFIDENTIAL_CLIENT_ID, client_secret="{{DEMO_SECRET}}",
    username="alice", password="{{ALICE_PASSWORD}}", scope="profile items:read"))
token
'''),
    md("A cluster with two worker processes of four threads each, and the token shared with its workers:"),
    code('''
cluster = LocalCluster(n_workers=2, threads_per_worker=4, processes=True, dashboard_address=None)
client = Client(cluster)
nb_oauth.dask.share(client, "demo")
print("shared with", len(client.scheduler_info()["workers"]), "workers:", nb_oauth.dask.shared(client))
'''),
    md("""
The task runs on a worker. It asks for `nb_oauth.session("demo")` there, exactly as in the
kernel; the session gets the current access token from the worker's copy, and a worker whose
copy is due asks the kernel rather than the authorization server.
"""),
    code('''
API = DEMO + "/api/items"

def hydrate(first, n=100):
    """n records, one API call each (runs on a worker)."""
    import nb_oauth
    session = nb_oauth.session("demo")
    rows, failed = [], 0
    for i in range(first, first + n):
        r = session.get(API, params={"page": i % 95 + 1, "per_page": 1})
        if r.status_code == 200:
            rows.append(r.json()["items"][0]["id"])
        else:
            failed += 1
    return rows, failed
'''),
    md("10,000 calls in 100 tasks. The token expires every 3 seconds while they run:"),
    code('''
refreshes_before = demo.stats["token:refresh_token"]
kernel_before = nb_oauth.tokens.refresh_count("demo")
started = time.monotonic()
results = client.gather(client.map(hydrate, range(0, 10_000, 100)))
elapsed = time.monotonic() - started

calls = sum(len(rows) + failed for rows, failed in results)
failed = sum(failed for _, failed in results)
refreshes = demo.stats["token:refresh_token"] - refreshes_before
print(f"API calls: {calls:,} in {elapsed:.1f} s from 8 worker threads")
print(f"failed calls: {failed}")
print(f"token lifetimes elapsed: {elapsed / 3:.1f}")
print(f"refresh requests at the token endpoint: {refreshes}")
print(f"refreshes done by the kernel: {nb_oauth.tokens.refresh_count('demo') - kernel_before}")
'''),
    md("""
About one refresh per expiry (the kernel refreshes each token a little before it expires), all
of them made by this kernel, and no failed call: the workers never spoke to the token endpoint.
The live `token` variable shows the current token:
"""),
    code("token"),
    md("""
Nothing secret went into the task graph: an `nb_oauth.session(...)` or `nb_oauth.auth(...)`
object, pickled to travel to a worker, carries the token's name only.
"""),
    code('''
import pickle

blob = pickle.dumps(nb_oauth.session("demo"))
print("token name in the pickled session:", b"demo" in blob)
print("access or refresh token in it:", any(s.encode() in blob for s in (token.access_token, token.refresh_token)))
'''),
    md("`unshare` makes the workers forget the token; a call on a worker then fails with a clear error:"),
    code('''
nb_oauth.dask.unshare(client, "demo")
try:
    client.submit(hydrate, 0, 1).result()
except nb_oauth.OAuthError as exc:
    print(type(exc).__name__, "—", exc)
'''),
    code('''
client.close()
cluster.close()
demo.stop()
'''),
]

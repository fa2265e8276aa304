"""Shared tokens across real processes: the refresh lock excludes other processes and is released, and two
processes rotating one refresh token under it never lose a rotation or spend a refresh token twice."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from filelock import FileLock

import nb_oauth
from nb_oauth._token import TokenSet
from nb_oauth.config import OAuth2Config
from nb_oauth.errors import StoreError
from nb_oauth.sharing import shared
from nb_oauth.sharing import vault as shared_vault

from .support import shared_store
from .support.shared_store import make_cfg

store_dir = shared_store.store_dir  # automatic: a private, empty store directory for every test

WORKER = textwrap.dedent('''
    import hashlib, json, sys, time, uuid
    from datetime import UTC, datetime, timedelta
    from nb_oauth.sharing import shared
    from nb_oauth.config import OAuth2Config
    from nb_oauth._token import TokenSet

    who, start_at, out, rounds = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    cfg = OAuth2Config(token_name="race", client_id="c", access_token_url="https://idp.example/token", share=True)
    mine = shared.load(cfg)
    spent, written, adopted = [], [], 0
    while time.time() < start_at:
        time.sleep(0.001)
    for i in range(rounds):
        with shared.refresh_lock(cfg):
            newer = shared.load_newer(cfg, mine)
            if newer is not None:
                mine, adopted = newer, adopted + 1
                continue
            time.sleep(0.002)  # the refresh request would be in flight here
            now = datetime.now(UTC)
            rotated = TokenSet(access_token=f"AT-{who}-{i}-{uuid.uuid4().hex}",
                               refresh_token=hashlib.sha256(mine.refresh_token.encode()).hexdigest(),
                               expires_at=now + timedelta(hours=1), obtained_at=now)
            shared.save(cfg, rotated)
            spent.append(mine.refresh_token)
            written.append(rotated.refresh_token)
            mine = rotated
    json.dump({"spent": spent, "written": written, "adopted": adopted}, open(out, "w"))
''')


def run_python(code: str, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(Path(nb_oauth.__file__).parent.parent))
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, stderr=subprocess.PIPE)


def test_two_processes_rotating_never_lose_a_refresh_token(tmp_path: Path) -> None:
    cfg = OAuth2Config(token_name="race", client_id="c", access_token_url="https://idp.example/token", share=True)
    seed = TokenSet(access_token="AT-seed", refresh_token="RT-seed", expires_at=datetime.now(UTC) + timedelta(hours=1),
                    obtained_at=datetime.now(UTC) - timedelta(seconds=1))
    shared.save(cfg, seed)
    start_at = str(time.time() + 1.5)
    outs = [tmp_path / f"w{i}.json" for i in range(2)]
    procs = [run_python(WORKER, f"p{i}", start_at, str(out), "50") for i, out in enumerate(outs)]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    results = [json.loads(out.read_text()) for out in outs]
    spent = [rt for r in results for rt in r["spent"]]
    written = [rt for r in results for rt in r["written"]]
    assert all(r["written"] for r in results), "both processes must have rotated"
    assert len(set(spent)) == len(spent), "a refresh token was spent twice"
    assert len(set(written)) == len(written), "a rotation was lost (two processes derived the same token)"
    chain, rt = [], "RT-seed"
    for _ in written:
        rt = hashlib.sha256(rt.encode()).hexdigest()
        chain.append(rt)
    assert set(chain) == set(written)
    assert shared.load(cfg).refresh_token == chain[-1]  # type: ignore[union-attr]
    for lock_path in (shared.refresh_lock_path(cfg), shared_vault.Vault().lock_path):
        probe = FileLock(str(lock_path))
        probe.acquire(timeout=0)  # released by both processes
        probe.release()


HOLD = textwrap.dedent('''
    import sys
    from filelock import FileLock, Timeout
    try:
        FileLock(sys.argv[1]).acquire(timeout=0)
    except Timeout:
        sys.exit(3)
''')


def test_refresh_lock_excludes_other_processes_and_is_released() -> None:
    cfg = make_cfg()
    path = str(shared.refresh_lock_path(cfg))
    with shared.refresh_lock(cfg):
        with shared.refresh_lock(cfg):  # re-entrant in one thread
            pass
        assert run_python(HOLD, path).wait(timeout=30) == 3
    assert run_python(HOLD, path).wait(timeout=30) == 0
    with pytest.raises(RuntimeError), shared.refresh_lock(cfg):
        raise RuntimeError("boom")
    assert run_python(HOLD, path).wait(timeout=30) == 0


def test_refresh_lock_timeout_is_a_store_error() -> None:
    cfg = make_cfg()
    shared_vault.ensure_dir(shared.refresh_lock_path(cfg).parent)
    other = FileLock(str(shared.refresh_lock_path(cfg)))
    other.acquire()
    try:
        with pytest.raises(StoreError, match="refresh lock"), shared.refresh_lock(cfg, timeout=0.1):
            pass
    finally:
        other.release()

"""Where the shared token files live and how they are kept safe on disk.

Permission checks, atomic replace and cross-process locks, kept apart from :mod:`.vault` (which
encrypts and decrypts) because they guard every file nb_oauth shares, not only the token store.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock, Timeout

from ..errors import StoreError

ENV_DIR = "NB_OAUTH_CONFIG_DIR"


# -- where ------------------------------------------------------------------------------------------


def config_dir() -> Path:
    """The user's nb_oauth config directory (``NB_OAUTH_CONFIG_DIR`` overrides it)."""
    override = os.environ.get(ENV_DIR, "").strip()
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("nb_oauth", appauthor=False))


# -- errors -----------------------------------------------------------------------------------------


def _io_error(action: str, path: Path, exc: OSError) -> StoreError:
    """An OS error as a StoreError that names the file and the directory to check."""
    return StoreError(f"Could not {action} {path}: {exc.strerror or type(exc).__name__}.",
                      fix=f"Check the permissions and free space of {path.parent}.")


# -- permissions ------------------------------------------------------------------------------------


def _posix() -> bool:
    """Ownership and mode bits only mean something on POSIX."""
    return os.name == "posix" and hasattr(os, "getuid")


def check_private_file(path: Path, what: str) -> None:
    """Refuse a file another user owns or can read: never fix it silently, the user must look."""
    if not _posix():
        return
    try:
        st = os.stat(path)
    except OSError as exc:
        raise _io_error("read", path, exc) from None
    if st.st_uid != os.getuid():
        raise StoreError(f"The {what} {path} belongs to another user; nb_oauth refuses to use it.",
                         fix=f"Delete {path} if you do not know where it comes from.")
    if st.st_mode & 0o077:
        raise StoreError(
            f"The {what} {path} is open to other users (mode {stat.S_IMODE(st.st_mode):03o}); nb_oauth refuses "
            "to use it and leaves it unchanged.",
            fix=f"Run: chmod 600 {path} (and consider whether someone may have read it; if so, delete it "
                "and revoke the tokens).",
        )


def check_private_dir(path: Path) -> None:
    """Refuse a directory others can write to: they could swap the key or the store."""
    if not _posix():
        return
    st = os.stat(path)
    if st.st_uid != os.getuid():
        raise StoreError(f"The directory {path} belongs to another user; nb_oauth will not keep tokens there.",
                         fix=f"Point {ENV_DIR} at a directory of your own.")
    if st.st_mode & 0o022:
        raise StoreError(
            f"The directory {path} is writable by other users (mode {stat.S_IMODE(st.st_mode):03o}); nb_oauth "
            "will not keep tokens there.",
            fix=f"Run: chmod 700 {path}",
        )


def ensure_dir(path: Path) -> None:
    """Create the directory 0700 when missing; check an existing one."""
    if not path.is_dir():
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if _posix():
                os.chmod(path, 0o700)
        except OSError as exc:
            raise _io_error("create the directory", path, exc) from None
    check_private_dir(path)


# -- atomic write -----------------------------------------------------------------------------------


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file 0600 in the same directory, fsync, rename over: readers see the old or the new file."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _io_error("write", path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise StoreError(f"Could not write {path}: {exc.strerror or type(exc).__name__}. The previous "
                             "file is unchanged.",
                             fix=f"Check the permissions and free space of {path.parent}.") from None
        raise
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable (POSIX only; best effort)."""
    if not _posix():
        return
    with suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- locks ------------------------------------------------------------------------------------------

_locks: dict[str, FileLock] = {}
_locks_guard = threading.Lock()


def file_lock(path: Path) -> FileLock:
    """One FileLock object per path: re-entrant in a thread, exclusive across threads and processes."""
    key = str(path)
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = FileLock(key, mode=0o600)
        return lock


@contextmanager
def hold(path: Path, timeout: float, what: str) -> Iterator[None]:
    """Hold the lock file ``path``; a timeout is a :class:`StoreError` naming the lock, not a hang."""
    ensure_dir(path.parent)
    lock = file_lock(path)
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise StoreError(
            f"Another process has held {what} for more than {timeout:g} s ({path}).",
            fix="Wait for the other kernel to finish, or stop it if it is stuck; the lock is freed when that "
                "process ends.",
        ) from None
    except OSError as exc:
        raise _io_error("lock", path, exc) from None
    try:
        yield
    finally:
        lock.release()


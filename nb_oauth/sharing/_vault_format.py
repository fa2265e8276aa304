"""The on-disk format and crypto of the shared token store: header, key check, key derivation.

Kept apart from :mod:`.vault` (which chooses where the key lives and runs reads and writes) so
what a store file contains, and how its key is checked and derived, can be read on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from ..errors import StoreError

MAGIC = b"NBOAUTHS"
FORMAT_VERSION = 1
#: magic, version, key source, scrypt log2(n), r, p, salt, key check
_HEADER = struct.Struct(">8sBBBBB16s16s")

KEYFILE, KEYRING, PASSPHRASE = 1, 2, 3
SOURCE_NAMES = {KEYFILE: "key file", KEYRING: "OS keyring", PASSPHRASE: "passphrase"}

#: scrypt cost of a new passphrase store (a file keeps the parameters it was written with).
SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P = 15, 8, 1

EntryMap = dict[str, Any]


# -- the header -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """What a reader needs before decrypting: the key source, KDF parameters and a key check."""

    source: int
    salt: bytes
    check: bytes
    log2_n: int = 0
    r: int = 0
    p: int = 0

    def pack(self) -> bytes:
        """The fixed-size header written before the ciphertext."""
        return _HEADER.pack(MAGIC, FORMAT_VERSION, self.source, self.log2_n, self.r, self.p, self.salt, self.check)

    @classmethod
    def unpack(cls, blob: bytes, path: Path) -> Header:
        """Read and check the header; ``path`` only names the file in errors."""
        if len(blob) < _HEADER.size or not blob.startswith(MAGIC):
            why = "it is truncated" if MAGIC.startswith(blob[:len(MAGIC)]) else "it is not an nb_oauth token store"
            raise damaged(path, why)
        _magic, version, source, log2_n, r, p, salt, check = _HEADER.unpack_from(blob)
        if version != FORMAT_VERSION:
            raise StoreError(f"The shared token store {path} has format {version}, which this nb_oauth cannot read.",
                             fix="Upgrade nb_oauth in this environment (the file is left as it is).")
        if source not in SOURCE_NAMES:
            raise damaged(path, "its header is corrupted")
        return cls(source, salt, check, log2_n, r, p)


def key_check(key: bytes, salt: bytes) -> bytes:
    """A tag telling "wrong key" apart from "damaged file" (Fernet alone cannot)."""
    return hmac.new(key, b"nb_oauth shared store key check" + salt, hashlib.sha256).digest()[:16]


# -- errors -----------------------------------------------------------------------------------------


def damaged(path: Path, why: str) -> StoreError:
    """The one error for an unreadable store: it says the file is kept, so nothing "repairs" it."""
    return StoreError(
        f"The shared token store {path} cannot be read: {why}. nb_oauth leaves it as it is and will not "
        "overwrite it.",
        fix=f"Restore it from a backup, or delete {path} to start over (the shared tokens in it are lost: "
            "get them again).",
    )


# -- keys -------------------------------------------------------------------------------------------

_key_cache: dict[tuple[Any, ...], bytes] = {}


def _derive(passphrase: str, header: Header) -> bytes:
    """scrypt is slow on purpose, so a derived key is cached per (passphrase, salt) in this process."""
    cache_key = ("scrypt", hashlib.sha256(passphrase.encode()).digest(), header.salt, header.log2_n, header.r,
                 header.p)
    key = _key_cache.get(cache_key)
    if key is None:
        raw = hashlib.scrypt(passphrase.encode(), salt=header.salt, n=1 << header.log2_n, r=header.r,
                             p=header.p, dklen=32, maxmem=256 * 1024 * 1024)
        key = _key_cache[cache_key] = base64.urlsafe_b64encode(raw)
    return key


def _valid_key(key: bytes) -> bool:
    """Whether Fernet accepts the key, so a corrupted key file or keyring entry is caught before use."""
    try:
        Fernet(key)
    except (ValueError, TypeError):
        return False
    return True


@dataclass
class Opened:
    """A store that was read: its data, and the header and key that opened it."""

    entries: EntryMap
    header: Header
    key: bytes


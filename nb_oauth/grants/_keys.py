"""The client's private key (``client_assertion_key``): PEM text, JWK JSON text or a path to either.

Parsing is joserfc's; a key is parsed once per distinct text (an RSA PEM takes milliseconds). No message
ever quotes the key: it is a secret like the client secret.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:  # joserfc is imported on first use: `import nb_oauth` stays light
    from joserfc.jwk import ECKey, OKPKey, RSAKey

    PrivateKey = RSAKey | ECKey | OKPKey
FIELD = "client_assertion_key"

_EC_ALGS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_RSA_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")


@dataclass(frozen=True)
class SigningKey:
    """A parsed private key, the algorithm it signs with and its ``kid`` (or None)."""

    key: Any  # a joserfc RSA, EC or OKP private key
    alg: str
    kid: str | None

    def __repr__(self) -> str:  # never the key material
        return f"SigningKey(alg={self.alg!r}, kid={self.kid!r})"


def load_private_key(text: str) -> PrivateKey:
    """PEM, JWK JSON, or a file path holding one of them; a clear :class:`ConfigError` otherwise."""
    return _load(hashlib.sha256(text.encode()).hexdigest(), text)


@functools.lru_cache(maxsize=32)
def _load(_digest: str, text: str) -> PrivateKey:
    from joserfc.errors import JoseError
    from joserfc.jwk import JWKRegistry, OctKey

    body = text.strip()
    source = "The client_assertion_key"
    if not body.startswith("{") and "-----BEGIN" not in body:
        path = Path(body).expanduser()
        if "\n" in body or len(body) > 4096 or not path.is_file():
            raise ConfigError(f"{source} is neither a PEM key, a JWK (JSON) nor a path to a key file that exists.",
                              fix="Pass the private key as PEM text, as JWK JSON, as a path to a .pem/.json file, "
                                  "or as {{VAR}} naming a variable that holds it.")
        try:
            body = path.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"The key file {path} cannot be read ({type(exc).__name__}).",
                              fix="Check the path and its permissions.") from None
        source = f"The key file {path}"
    key: Any
    try:
        if body.startswith("{"):
            data = json.loads(body)
            if not isinstance(data, dict) or "keys" in data:
                raise ConfigError(f"{source} is JSON but not a single JWK.",
                                  fix="Pass one private JWK (an object with kty, and d), not a key set.")
            key = JWKRegistry.import_key(data)
        else:
            key = _import_pem(body.encode())
    except ConfigError:
        raise
    except json.JSONDecodeError:
        raise ConfigError(f"{source} starts like a JWK but is not valid JSON.",
                          fix="Check the JWK text; on a %oauth_token line, put it in single quotes ('{\"kty\": …}') "
                              "so the shell keeps its double quotes, or pass it as {{VAR}}.") from None
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"{source} does not parse as a private key ({type(exc).__name__}).",
                          fix="Check that it is a complete PEM (-----BEGIN … PRIVATE KEY-----) or JWK with its "
                              "private part.") from None
    if isinstance(key, OctKey):
        raise ConfigError(f"{source} is a symmetric (oct) key; private_key_jwt needs a key pair.",
                          fix="Pass an RSA, EC (P-256) or Ed25519 private key, or use client_secret_jwt.")
    if not key.is_private:
        raise ConfigError(f"{source} is a public key; signing needs the private key.",
                          fix="Pass the private key (the server keeps the public one).")
    if key.get("use") not in (None, "sig"):
        raise ConfigError(f"{source} is marked use={key.get('use')}, a key for encryption, not for signing.",
                          fix="Pass the client's signing key (use=sig, or no use member).")
    return key  # type: ignore[no-any-return]


def _with_line_breaks(pem: bytes) -> bytes:
    """A PEM pasted into a one-line box loses its line breaks: put them back (64-character base64 lines)."""
    text = pem.decode("ascii", errors="replace").strip()
    if "\n" in text:
        return pem
    import re

    match = re.match(r"^(-----BEGIN [A-Z ]+-----)\s*(.*?)\s*(-----END [A-Z ]+-----)$", text)
    if match is None:
        return pem
    body = re.sub(r"\s+", "", match.group(2))
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "\n".join([match.group(1), *lines, match.group(3), ""]).encode()


def _import_pem(data: bytes) -> Any:
    from joserfc.errors import JoseError
    from joserfc.jwk import JWKRegistry

    data = _with_line_breaks(data)
    errors: list[Exception] = []
    for kind in ("RSA", "EC", "OKP"):
        try:
            return JWKRegistry.import_key(data, kind)
        except (JoseError, ValueError, TypeError) as exc:
            errors.append(exc)
    raise ValueError("not a PEM key joserfc reads")


def default_alg(key: PrivateKey, *, fapi2: bool = False) -> str:
    """RS256 for RSA (PS256 under FAPI 2.0), ES256 for P-256, EdDSA for Ed25519."""
    from joserfc.jwk import ECKey, RSAKey

    if isinstance(key, RSAKey):
        return "PS256" if fapi2 else "RS256"
    if isinstance(key, ECKey):
        alg = _EC_ALGS.get(key.curve_name)
        if alg is None:
            raise ConfigError(f"The client_assertion_key is on curve {key.curve_name}, which JWS does not sign with.",
                              fix="Use a P-256 key (ES256).")
        return alg
    if key.curve_name == "Ed25519":
        return "EdDSA"
    raise ConfigError(f"The client_assertion_key is an {key.curve_name} key; only Ed25519 signs JWS (EdDSA).",
                      fix="Use an Ed25519, P-256 or RSA key.")


def check_alg_fits(key: PrivateKey, alg: str, field: str = "client_assertion_alg", fix: str | None = None) -> None:
    from joserfc.jwk import ECKey, RSAKey

    fits = (alg in _RSA_ALGS if isinstance(key, RSAKey)
            else alg == _EC_ALGS.get(key.curve_name) if isinstance(key, ECKey)
            else alg == "EdDSA" and key.curve_name == "Ed25519")
    if not fits:
        kind = ("RSA" if isinstance(key, RSAKey) else f"EC {key.curve_name}" if isinstance(key, ECKey)
                else key.curve_name)
        raise ConfigError(f"{field} {alg} does not fit the key, which is {kind}.",
                          fix=fix or f"Set {field} to {default_alg(key)} (or leave it unset to choose from the key), or "
                                     f"give a key of the type {alg} needs.")


@functools.lru_cache(maxsize=32)  # asked for on every token request: parsed and checked once per key and setting
def signing_key(text: str, alg: str | None, kid: str | None, *, fapi2: bool = False) -> SigningKey:
    """The key, its algorithm (given, or chosen from the key) and its ``kid`` (given, or the JWK's)."""
    key = load_private_key(text)
    declared = key.alg  # a JWK may name the one algorithm it is for: joserfc then signs with no other
    if declared and alg and alg != declared:
        raise ConfigError(f"client_assertion_alg is {alg}, but the JWK itself says alg {declared}.",
                          fix="Leave client_assertion_alg unset (the JWK's alg is used), or change the JWK's alg.")
    if declared and not alg:
        check_alg_fits(key, declared, "the JWK's alg", fix="Correct the JWK's alg member, or remove it to choose "
                                                            "from the key.")
        from ..config import FAPI2_ALGS

        if fapi2 and declared not in FAPI2_ALGS:
            raise ConfigError(f"FAPI 2.0 signs with {', '.join(FAPI2_ALGS)} only, and the JWK says alg {declared}.",
                              fix="Set the JWK's alg to one of those (PS256 for an RSA key), or remove it.")
    chosen = alg or declared or default_alg(key, fapi2=fapi2)
    check_alg_fits(key, chosen)
    return SigningKey(key, chosen, kid or key.kid)

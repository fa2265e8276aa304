"""DPoP (RFC 9449): a key pair per token and a fresh signed proof on every request that uses it.

:class:`DPoPKey` makes the proofs (joserfc signs them); :mod:`._nonce` remembers each server's
``DPoP-Nonce``; :mod:`._redirect` gives each followed redirect its own proof; :func:`describe_proof`
decodes a proof for the teaching trace (header and claims, never the private key).
"""

from ._key import DPOP_ALGS, DPoPKey, access_token_hash, describe_proof, htu
from ._nonce import nonce_challenge, remember_nonce, server_nonce
from ._redirect import landed_elsewhere, sign_next_hop
from ._resource import proof_for, wants_nonce_retry

__all__ = ["DPOP_ALGS", "DPoPKey", "access_token_hash", "describe_proof", "htu", "landed_elsewhere", "nonce_challenge",
           "proof_for", "remember_nonce", "server_nonce", "sign_next_hop", "wants_nonce_retry"]

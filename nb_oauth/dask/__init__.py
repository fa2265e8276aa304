"""The kernel's tokens on a Dask cluster, with the kernel as the one refresh authority.

::

    from dask.distributed import Client
    client = Client(cluster)
    nb_oauth.dask.share(client, "demo")       # workers may now use token "demo"

    def fetch(i):
        import nb_oauth
        return nb_oauth.session("demo").get(f"{API}/items/{i}").json()   # runs on a worker

    rows = client.gather(client.map(fetch, range(10_000)))
    nb_oauth.dask.unshare(client, "demo")     # workers forget it

Built on Dask's own mechanisms: a worker plugin (``client.register_plugin``) installs, on every
worker and on workers that join later, the source from which ``nb_oauth.session(name)`` and
``nb_oauth.auth(name)`` take the token; workers ask the kernel through a Dask event topic
(``log_event`` / ``client.subscribe_topic``); the kernel sends access tokens with ``client.run``.
The refresh token, the client secret, a client assertion key and the password never leave the
kernel; workers hold only the current access token. This is the only module that imports Dask.
"""

from __future__ import annotations

from typing import Any

try:
    import distributed
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(f"nb_oauth.dask needs Dask's distributed scheduler ({exc}). Install it with: "
                      "pip install 'nb_oauth[dask]'") from exc

from .._store import tokens
from ._kernel import hub_for
from ._wire import SharingError, dpop_refusal

__all__ = ["SharingError", "share", "shared", "unshare"]


def share(client: Any, name: str) -> None:
    """Let the workers of ``client`` use token ``name`` (``nb_oauth.session(name)``, ``nb_oauth.auth(name)``).

    Every current worker has the token when this returns; a worker that joins later gets it
    when it starts. Sharing a name twice is harmless. Raises :class:`SharingError` when there is
    no such token in the kernel, when the client is not connected, or for a DPoP-bound token.
    """
    _check_client(client)
    if not isinstance(name, str) or name not in tokens:
        known = ", ".join(sorted(tokens.names())) or "none yet"
        raise SharingError(f"There is no token named {name!r} in this kernel to share (stored: {known}).",
                           fix=f"Get it first (%oauth_token {name} or nb_oauth.get_new_access_token(config)), "
                               "then share it.")
    refusal = dpop_refusal(tokens.config(name), tokens[name].token_set)
    if refusal is not None:
        raise refusal
    hub = hub_for(client, create=True)
    assert hub is not None
    hub.share(name)


def unshare(client: Any, name: str) -> bool:
    """Workers of ``client`` forget token ``name``; their calls with it then fail with :class:`SharingError`.

    Returns False when the name was not shared with this client (nothing to do).
    """
    _check_client(client)
    hub = hub_for(client, create=False)
    return hub.unshare(name) if hub is not None else False


def shared(client: Any) -> list[str]:
    """The names shared with the workers of ``client``."""
    hub = hub_for(client, create=False)
    return hub.names() if hub is not None else []


def _check_client(client: Any) -> None:
    if not isinstance(client, distributed.Client):
        raise SharingError(f"nb_oauth.dask needs a dask.distributed Client, not {type(client).__name__}.",
                           fix="Pass the client: client = dask.distributed.Client(cluster).")
    status = getattr(client, "status", None)
    if status != "running":
        raise SharingError(f"The Dask client is not connected to a scheduler (its status is {status!r}).",
                           fix="Connect it first: client = Client(cluster) or Client('tcp://scheduler:8786').")
    if client.asynchronous:
        raise SharingError("nb_oauth.dask.share needs a synchronous Dask client (this one is asynchronous).",
                           fix="Create the client with Client(cluster), without asynchronous=True.")

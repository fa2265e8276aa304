"""Embedded OAuth 2.0 / OpenID Connect demo authorization server.

The constants import without Flask or Authlib; ``DemoServer`` loads them on
first use, so the package stays importable with only the core install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .constants import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    DEMO_USERS,
    PUBLIC_CLIENT_ID,
)

if TYPE_CHECKING:
    from .server import DemoServer

__all__ = [
    "CONFIDENTIAL_CLIENT_ID",
    "CONFIDENTIAL_CLIENT_SECRET",
    "DEMO_USERS",
    "PUBLIC_CLIENT_ID",
    "DemoServer",
]


def __getattr__(name: str) -> Any:
    if name == "DemoServer":
        try:
            from .server import DemoServer
        except ImportError as exc:
            raise ImportError(f"The demo server needs Authlib and Flask ({exc}). Install them with: "
                              "pip install 'nb_oauth[demo]'") from exc
        return DemoServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

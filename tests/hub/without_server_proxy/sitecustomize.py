"""On PYTHONPATH of a hub user's server: jupyter-server-proxy is not there, as in an image without it.

The hub test's venv has the package; this makes a server (and its kernels) behave as if it had
never been installed: ``import jupyter_server_proxy`` and ``importlib.util.find_spec`` both fail.
"""

from __future__ import annotations

import sys
from importlib.machinery import PathFinder

HIDDEN = "jupyter_server_proxy"


class _PathFinderWithout(PathFinder):
    """The standard path finder, except that it never finds jupyter-server-proxy."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        if fullname == HIDDEN or fullname.startswith(HIDDEN + "."):
            return None
        return super().find_spec(fullname, path, target)


sys.meta_path[:] = [_PathFinderWithout if finder is PathFinder else finder for finder in sys.meta_path]

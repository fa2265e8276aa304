"""Tracebacks in the notebook never show a token: requests' errors quote the URL they were sending.

``nb_oauth.session(name)`` and ``auth(name)`` already mask the errors they raise, but an
``auth(name)`` handed to plain ``requests.get(...)`` cannot catch the ``ConnectionError`` requests
raises after it (its message, and the urllib3 errors chained to it, quote the URL, which carries the
token with ``add_token_to="url"``).  In a notebook that traceback would be saved with the ``.ipynb``,
so a handler for requests' and urllib3's errors masks every secret nb_oauth holds in the whole chain
before IPython shows it.  It is installed only when no other custom handler is.
"""

from __future__ import annotations

from typing import Any

from .._log_guard import masked_exception


def _mask_chain(exc: BaseException | None) -> None:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        masked_exception(exc)
        exc = exc.__cause__ or exc.__context__


def _show_masked(shell: Any, etype: type[BaseException], evalue: BaseException, tb: Any,
                 tb_offset: int | None = None) -> Any:
    _mask_chain(evalue)
    return shell.showtraceback((etype, evalue, tb), tb_offset=tb_offset)


def install(ip: Any) -> bool:
    """Mask requests' and urllib3's errors in this shell's tracebacks; False when another handler is set."""
    import requests
    import urllib3.exceptions

    if getattr(ip, "custom_exceptions", ()) not in ((), None) and not installed(ip):
        return False
    ip.set_custom_exc((requests.RequestException, urllib3.exceptions.HTTPError), _show_masked)
    ip._nb_oauth_exc_guard = True
    return True


def installed(ip: Any) -> bool:
    return bool(getattr(ip, "_nb_oauth_exc_guard", False))


def uninstall(ip: Any) -> None:
    if installed(ip):
        ip.set_custom_exc((), None)
        ip._nb_oauth_exc_guard = False

"""Keeping secrets out of other libraries' logs and exception messages.

With ``add_token_to="url"`` the token travels in the query string, and HTTP libraries log
request lines: urllib3 at DEBUG (``"GET /api?access_token=..."``), httpx at INFO. A filter on
those loggers masks secret ``key=value`` pairs, Bearer values and every token nb_oauth holds.
It only runs for records that are actually emitted, so it costs nothing while logging is off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from .errors import redact

#: Loggers that may print URLs, headers or bodies of nb_oauth's requests.
GUARDED_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "httpx", "httpcore.http11", "httpcore.connection",
                   "requests_oauthlib.oauth2_session", "oauthlib", "oauthlib.oauth2.rfc6749.parameters")


#: Callables giving the secrets currently held (the token store adds itself).
_SECRET_SOURCES: list[Callable[[], Iterable[str]]] = []


def add_secret_source(source: Callable[[], Iterable[str]]) -> None:
    """Mask what ``source()`` returns in every guarded log line."""
    if source not in _SECRET_SOURCES:
        _SECRET_SOURCES.append(source)


def known_secrets() -> list[str]:
    """Every secret the registered sources hold now (tokens in the store, values filled from placeholders)."""
    return [s for source in _SECRET_SOURCES for s in source()]


def masked_exception(exc: BaseException, secrets: Iterable[str | None] = ()) -> BaseException:
    """``exc`` with every secret masked in its message (type, attributes and traceback kept).

    requests' and httpx's errors quote the URL they were sending, and with ``add_token_to="url"`` that
    URL carries the token; the error is re-raised ``from None`` by the caller, so the library's chained
    errors (which quote it too) are not printed either.
    """
    text = str(exc)
    cleaned = redact(text, [*secrets, *known_secrets()])
    if cleaned != text:
        exc.args = (cleaned,)
    return exc


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with secrets masked (never drops the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging call's problem, not ours
            return True
        cleaned = redact(message, known_secrets())
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_FILTER = RedactingFilter()


def install() -> None:
    """Attach the filter once to each guarded logger."""
    for name in GUARDED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)

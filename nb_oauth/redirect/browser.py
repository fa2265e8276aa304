"""Opening URLs in the user's browser, honouring ``BROWSER`` at every call.

Python's ``webbrowser`` reads ``BROWSER`` once per process; nb_oauth reads it each time, so a
``BROWSER`` set later (a test's scripted user agent, a user's choice) is honoured too.  The
browser is started in a background thread: some browser commands only return when the window
closes, and the flow must not wait for that. Without ``BROWSER`` on a Linux machine with no display,
nothing is opened (Python would start a text browser in the kernel's terminal): the link is shown.
"""

from __future__ import annotations

import os
import shlex
import sys
import threading
import webbrowser


def _open(url: str) -> bool:
    choice = os.environ.get("BROWSER")
    if choice:
        for entry in choice.split(os.pathsep):
            entry = entry.strip()
            if not entry:
                continue
            try:
                if browser_for(entry).open(url, new=2):
                    return True
            except (webbrowser.Error, OSError, ValueError):
                continue
        return False
    if not _has_graphical_browser():
        return False  # the link is shown anyway; a console browser must not take over the kernel's terminal
    try:
        return webbrowser.open(url, new=2)
    except (webbrowser.Error, OSError):
        return False


def _refuse(url: str) -> bool:
    return False


def _has_graphical_browser() -> bool:
    """On Linux without a display, Python would fall back to a text browser (lynx, w3m) in the terminal."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def browser_for(entry: str) -> webbrowser.BaseBrowser:
    """One ``BROWSER`` entry as Python reads it: a command line with ``%s``, a known browser name, or a
    command that gets the URL as its argument."""
    if "%s" in entry:
        return webbrowser.BackgroundBrowser(shlex.split(entry))
    try:
        return webbrowser.get(entry)
    except webbrowser.Error:
        return webbrowser.BackgroundBrowser(entry)


def open_in_browser(url: str) -> threading.Thread:
    """Open ``url`` in a new tab without blocking; returns the thread doing it.

    Only ``http``/``https`` addresses are ever handed to the browser or the OS opener (the callers check
    them first and say why; this is the last line): another scheme can start a protocol handler.
    """
    safe = url.split(":", 1)[0].lower() in ("http", "https")
    thread = threading.Thread(target=_open if safe else _refuse, args=(url,), name="nb_oauth-browser", daemon=True)
    thread.start()
    return thread

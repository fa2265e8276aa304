"""A secret typed on a magic line stays in IPython's history database: say so, once.

IPython keeps every line run (``~/.ipython/profile_default/history.sqlite``, and ``_ih`` / ``In``),
so a literal ``--client-secret`` outlives the cell, the notebook and the kernel.  nb_oauth cannot
take it back out; it warns the first time each such option is given a literal value in this kernel
and suggests a ``{{VAR}}`` placeholder instead.  The warning names the option, never the value.
"""

from __future__ import annotations

import argparse

from ..config import SECRET_FIELDS, placeholders

_warned: set[str] = set()


def warn_literal_secrets(args: argparse.Namespace) -> list[str]:
    """Warn about the secret options given a literal value (each once per kernel); the options warned."""
    from .ui import show_warning

    fresh = [name for name in SECRET_FIELDS if name not in _warned and _literal(getattr(args, name, None))]
    if not fresh:
        return []
    _warned.update(fresh)
    options = [f"--{name.replace('_', '-')}" for name in fresh]
    example = f"{options[0]} {{{{{fresh[0].upper()}}}}}"
    show_warning(f"{' and '.join(options)} {'was' if len(options) == 1 else 'were'} typed on the magic line, so "
                 "the secret is now kept in IPython's history database (history.sqlite) and input history, "
                 f"beyond this notebook. Write {example} instead, with {fresh[0].upper()} set in a notebook "
                 "variable or the environment (for instance from getpass.getpass()), and change the secret if "
                 "others can read that history. (Shown once per kernel.)")
    return fresh


def _literal(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not placeholders.has_placeholder(value)


def reset() -> None:
    """Forget which options were warned about (a fresh kernel, or a test)."""
    _warned.clear()

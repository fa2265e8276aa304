"""Running notebooks in a real kernel (nbclient) and scanning what would be saved for secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from ..conftest import robot_command

COLLECT_SECRETS = """
import json as _json, nb_oauth as _nb
_found = set()
for _value in list(globals().values()):
    if isinstance(_value, _nb.Token):
        _found.update(v for v in (_value.access_token, _value.refresh_token, _value.id_token) if v)
for _token in _nb.tokens.list():
    _found.update(v for v in (_token.access_token, _token.refresh_token, _token.id_token) if v)
for _name in {names!r}:
    if isinstance(globals().get(_name), str):
        _found.add(globals()[_name])
with open({path!r}, "w") as _f:
    _json.dump(sorted(_found), _f)
"""


def run_notebook(path: Path, out_dir: Path, *, env: dict[str, str] | None = None,
                 secret_names: tuple[str, ...] = (), timeout: int = 180) -> tuple[nbformat.NotebookNode, list[str]]:
    """Execute ``path`` in a fresh kernel; return the saved notebook and every secret the run held."""
    nb = nbformat.read(path, as_version=4)
    secrets_file = out_dir / f"{path.stem}.secrets.json"
    nb.cells.append(new_code_cell(COLLECT_SECRETS.format(names=list(secret_names), path=str(secrets_file))))
    kernel_env = {**os.environ, "BROWSER": robot_command(), "NB_OAUTH_CALLBACK_TIMEOUT": "60", **(env or {})}
    kernel_env.pop("NB_OAUTH_DEMO_URL", None) if "NB_OAUTH_DEMO_URL" not in (env or {}) else None
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(out_dir)}},
                            store_widget_state=True, allow_errors=False)
    client.execute(env=kernel_env)
    nb.cells.pop()  # the collector cell is not part of what a user saves
    saved = out_dir / path.name
    nbformat.write(nb, saved)
    return nb, json.loads(secrets_file.read_text())


def find_secrets(saved: Path, secrets: list[str]) -> list[str]:
    """Every secret (or a long piece of one) that appears anywhere in the saved file."""
    text = saved.read_text()
    return [s[:6] + "…" for s in secrets if s and (s in text or (len(s) > 24 and s[:24] in text))]


def outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(json.dumps(out))
    return "\n".join(parts)

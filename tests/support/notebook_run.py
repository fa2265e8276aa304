"""Running notebooks in a real kernel (nbclient) and scanning what would be saved for secrets."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from ..conftest import robot_command

ROOT = Path(__file__).resolve().parent.parent.parent
#: The venv ``make demo-venv`` builds exactly as ``make demo`` builds ``.venv`` (``pip install -e ".[notebook]"``).
DEMO_VENV = ROOT / ".venv-demo"

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

#: nbclient waits this long after a cell's reply for its last outputs (its default of 4 s drops them
#: when the whole suite loads the machine; a dropped output fails a test that reads it).
IOPUB_TIMEOUT = 30


def demo_python_or_skip() -> str:
    """The Python of the make-demo venv; a failure in CI (``make test`` builds it), a skip elsewhere."""
    if (DEMO_VENV / ".installed-notebook").exists():
        return str(DEMO_VENV / "bin" / "python")
    message = f"{DEMO_VENV.name} is missing: run make demo-venv (make test does)."
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


def _kernel_manager(python: str, spec_dir: Path) -> KernelManager:
    """A kernel that runs on ``python`` (its own venv, its own nb_oauth install)."""
    kernel_dir = spec_dir / "kernels" / "make-demo"
    kernel_dir.mkdir(parents=True, exist_ok=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "make demo's venv", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(spec_dir / "kernels")])
    return KernelManager(kernel_spec_manager=specs, kernel_name="make-demo")


def run_notebook(path: Path, out_dir: Path, *, env: dict[str, str] | None = None,
                 secret_names: tuple[str, ...] = (), timeout: int = 180,
                 python: str | None = None, allow_errors: bool = False) -> tuple[nbformat.NotebookNode, list[str]]:
    """Execute ``path`` in a fresh kernel (on ``python`` when given); return the saved notebook and every
    secret the run held. The notebook is read from ``path`` and written to ``out_dir`` only."""
    nb = nbformat.read(path, as_version=4)
    secrets_file = out_dir / f"{path.stem}.secrets.json"
    nb.cells.append(new_code_cell(COLLECT_SECRETS.format(names=list(secret_names), path=str(secrets_file))))
    browser = robot_command() if python is None else f"{shlex.quote(python)} -m nb_oauth.demo.robot %s"
    kernel_env = {**os.environ, "BROWSER": browser, "NB_OAUTH_CALLBACK_TIMEOUT": "60", **(env or {})}
    kernel_env.pop("NB_OAUTH_DEMO_URL", None) if "NB_OAUTH_DEMO_URL" not in (env or {}) else None
    if python is not None:
        kernel_env.pop("PYTHONPATH", None)  # nothing from the test venv leaks into the kernel
    km = _kernel_manager(python, out_dir / "kernelspec") if python is not None else None
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", km=km,
                            resources={"metadata": {"path": str(out_dir)}}, store_widget_state=True,
                            allow_errors=allow_errors, iopub_timeout=IOPUB_TIMEOUT)
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


def cell_errors(nb: nbformat.NotebookNode) -> list[str]:
    """One line per cell that ended in an error: its number, the exception and its message."""
    return [f"cell {i}: {out.get('ename')}: {str(out.get('evalue'))[:300]}"
            for i, cell in enumerate(nb.cells) for out in cell.get("outputs", []) if out.get("output_type") == "error"]

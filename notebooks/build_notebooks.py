"""Writes the example notebooks from plain cell lists (so they stay reviewable as code).

Each notebook's cells are in its own module beside this one (``quickstart_cells.py`` and so on);
run ``python notebooks/build_notebooks.py`` to write the ``.ipynb`` files again.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from dask_cells import DASK
from github_cells import GITHUB
from learn_oauth_cells import LEARN
from nbformat.v4 import new_notebook
from quickstart_cells import QUICKSTART

HERE = Path(__file__).parent


def write(name: str, cells: list) -> Path:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = HERE / name
    nbformat.write(nb, path)
    return path


if __name__ == "__main__":
    for name, cells in (("quickstart.ipynb", QUICKSTART), ("github-device-flow.ipynb", GITHUB),
                        ("learn-oauth.ipynb", LEARN), ("dask-fan-out.ipynb", DASK)):
        print(write(name, cells))

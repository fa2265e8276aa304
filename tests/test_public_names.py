"""Every public name of ``nb_oauth`` keeps working however often, and in whichever order, it is used.

A submodule named like a public function would replace that function on the package the first
time it is imported (``nb_oauth.form`` becoming a module after the form is first shown). Each
order runs in a fresh kernel (nbclient), since that rebinding happens once per process.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import nb_oauth

from .support.notebook_run import run_notebook

POSTMAN = Path(__file__).resolve().parent / "fixtures" / "postman" / "acme.postman_collection.json"
#: Every public function of the package (classes, errors and constants are names, not calls).
FUNCTIONS = ("auth", "form", "from_postman", "get_new_access_token", "load_ipython_extension", "session",
             "start_flow", "unload_ipython_extension")


def test_no_public_name_is_also_a_submodule() -> None:
    submodules = {info.name for info in pkgutil.iter_modules(nb_oauth.__path__)}
    assert not submodules & set(nb_oauth.__all__), submodules & set(nb_oauth.__all__)
    assert set(FUNCTIONS) == {n for n in nb_oauth.__all__ if isinstance(getattr(nb_oauth, n), types.FunctionType)}
    before = {name: getattr(nb_oauth, name) for name in nb_oauth.__all__}
    for info in pkgutil.walk_packages(nb_oauth.__path__, "nb_oauth."):
        if ".demo" not in info.name and not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    changed = [name for name, value in before.items() if getattr(nb_oauth, name) is not value]
    assert not changed, f"importing the submodules rebound nb_oauth.{changed}"


CALL_EVERYTHING = '''
import types, requests, ipywidgets
import nb_oauth

def call_everything(round_):
    for name in nb_oauth.__all__:
        assert not isinstance(getattr(nb_oauth, name), types.ModuleType), f"nb_oauth.{name} is a module now"
    shown = nb_oauth.form(token_name=f"form{round_}", grant_type="client_credentials",
                          access_token_url=DEMO + "/token", client_id="demo-confidential",
                          client_secret=SECRET, scope="items:read")
    assert isinstance(shown, ipywidgets.Widget), type(shown)
    cfg = nb_oauth.OAuth2Config(token_name=f"cc{round_}", grant_type="client_credentials",
                                access_token_url=DEMO + "/token", client_id="demo-confidential",
                                client_secret=SECRET, scope="items:read")
    assert isinstance(nb_oauth.get_new_access_token(cfg), nb_oauth.Token)
    assert nb_oauth.session(cfg.token_name).get(DEMO + "/api/items", timeout=10).status_code == 200
    assert requests.get(DEMO + "/api/items", auth=nb_oauth.auth(cfg.token_name), timeout=10).status_code == 200
    assert nb_oauth.from_postman(POSTMAN)
    pkce = nb_oauth.OAuth2Config(token_name=f"flow{round_}", grant_type="authorization_code_with_pkce",
                                 issuer=DEMO, client_id="demo-public", scope="openid")
    flow = nb_oauth.start_flow(pkce, open_browser=False)
    assert flow.authorization_url.startswith(DEMO + "/authorize?")
    flow.cancel()
    flow.redirect.close()
    shell = get_ipython()
    nb_oauth.unload_ipython_extension(shell)
    nb_oauth.load_ipython_extension(shell)
    assert "oauth_token" in shell.magics_manager.magics["line"]
    return round_
'''

SETUP = "import os\nDEMO = os.environ['NB_OAUTH_DEMO_URL']\nSECRET = 'demo-secret'\nPOSTMAN = {postman!r}"
MAGICS = ["%load_ext nb_oauth", "%oauth_token",
          "%oauth_token magic_cc --grant-type client_credentials --access-token-url {{DEMO}}/token "
          "--client-id demo-confidential --client-secret {{SECRET}} --scope items:read",
          "import nb_oauth as _nb\nassert isinstance(magic_cc, _nb.Token) and callable(_nb.form)"]
TWICE = ["print(call_everything(1))", "print(call_everything(2))"]
ORDERS = {
    "functions-first": [CALL_EVERYTHING, *TWICE, *MAGICS, "print(call_everything(3))", "print(call_everything(4))"],
    "magics-first": [*MAGICS, CALL_EVERYTHING, *TWICE, *MAGICS[1:], "print(call_everything(3))"],
}


@pytest.mark.kernel
@pytest.mark.parametrize("order", sorted(ORDERS))
def test_every_public_function_twice_in_both_orders_with_the_magics(order: str, demo, tmp_path: Path) -> None:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [new_code_cell(SETUP.format(postman=str(POSTMAN))), *[new_code_cell(code) for code in ORDERS[order]]]
    path = tmp_path / f"{order}.ipynb"
    nbformat.write(nb, path)
    out, _secrets = run_notebook(path, tmp_path, env={"NB_OAUTH_DEMO_URL": demo.url, "NB_OAUTH_REMOTE": "0"})
    printed = [o.get("text", "") for cell in out.cells for o in cell.get("outputs", []) if o.get("name") == "stdout"]
    expected = 4 if order == "functions-first" else 3
    assert [p.strip() for p in printed if p.strip().isdigit()] == [str(i) for i in range(1, expected + 1)], printed
    errors = [o for cell in out.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors

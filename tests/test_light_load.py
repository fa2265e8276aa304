"""``import nb_oauth`` and ``%load_ext nb_oauth`` load no flow machinery; a flow loads it when it starts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Loaded when a flow starts, never at import or extension time.
FLOW_MODULES = ["nb_oauth._flows", "nb_oauth._transport", "nb_oauth._trace", "nb_oauth.grants", "oauthlib",
                "nb_oauth.redirect.listener", "nb_oauth.redirect.browser", "webbrowser", "subprocess", "http.server",
                "ipywidgets", "anywidget", "joserfc", "cryptography", "pandas", "httpx"]

LOADED = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
before = {m for m in %(modules)r if m in sys.modules}
%(step)s
print(json.dumps({"before": sorted(before), "after": sorted(m for m in %(modules)r if m in sys.modules),
                  "magics": sorted(ip.magics_manager.magics["line"])}))
"""


def loaded(step: str, tmp_path) -> dict[str, list[str]]:
    script = LOADED % {"modules": FLOW_MODULES, "step": step}
    env = {"IPYTHONDIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("step", ["import nb_oauth", "ip.run_line_magic('load_ext', 'nb_oauth')"])
def test_loading_brings_in_no_flow_machinery(step: str, tmp_path) -> None:
    result = loaded(step, tmp_path)
    assert result["before"] == []  # the check itself would mean nothing otherwise
    assert result["after"] == []
    if "load_ext" in step:
        assert "oauth_token" in result["magics"]


def test_a_flow_loads_what_it_needs_when_it_starts(demo, tmp_path) -> None:
    step = (f"import nb_oauth\n"
            f"cfg = nb_oauth.OAuth2Config(token_name='t', grant_type='client_credentials', "
            f"access_token_url={demo.url + '/token'!r}, client_id='demo-confidential', client_secret='demo-secret')\n"
            f"assert nb_oauth.get_new_access_token(cfg).access_token")
    result = loaded(step, tmp_path)
    assert "nb_oauth._flows" in result["after"] and "nb_oauth.grants" in result["after"]

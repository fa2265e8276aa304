"""What every notebook's cell list is built from: markdown and code cells, and the demo setup cell."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


def demo_setup(extra_imports: str = ""):
    """The cell every demo notebook starts with: the demo server's address and its demo credentials."""
    return code(f'''
import os
{extra_imports}from nb_oauth.demo import DEMO_USERS, DemoServer
from nb_oauth.demo import CONFIDENTIAL_CLIENT_SECRET as DEMO_SECRET

# `make demo` starts the demo server and passes its address; otherwise start one in this kernel.
# front_channel_url="auto": on JupyterHub/Binder its login pages go through the Jupyter server's proxy.
DEMO = os.environ.get("NB_OAUTH_DEMO_URL") or DemoServer(front_channel_url="auto").start().url
ALICE_PASSWORD = DEMO_USERS["alice"]
print("Demo authorization server:", DEMO)
''')

"""Run the django-oauth-toolkit test server: ``python -m tests.servers.dot.serve --port N --db FILE``."""

from __future__ import annotations

import argparse
import os
import sys


def _seed() -> None:
    from django.contrib.auth.models import User
    from oauth2_provider.models import get_application_model

    from . import CLIENTS, PASSWORD, USER

    Application = get_application_model()
    owner = User.objects.create_user(USER, password=PASSWORD)
    for client_id, (client_type, grant, secret) in CLIENTS.items():
        app = Application(client_id=client_id, name=client_id, user=owner, client_type=client_type,
                          authorization_grant_type=grant, redirect_uris="http://127.0.0.1/callback",
                          algorithm="RS256" if grant == "authorization-code" else "",
                          skip_authorization=client_id == "code-confidential")
        if secret:
            app.client_secret = secret
        else:
            app.client_secret = ""
        app.save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.servers.dot.serve")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="a fresh SQLite file")
    parser.add_argument("--token-seconds", type=int, default=300)
    args = parser.parse_args(argv)
    os.environ.update(NB_OAUTH_DOT_PORT=str(args.port), NB_OAUTH_DOT_DB=args.db,
                      NB_OAUTH_DOT_TOKEN_SECONDS=str(args.token_seconds),
                      DJANGO_SETTINGS_MODULE="tests.servers.dot.settings")
    import django
    from django.core.management import call_command
    from django.core.servers.basehttp import run
    from django.core.wsgi import get_wsgi_application

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    _seed()
    print(f"ready http://127.0.0.1:{args.port}/o", flush=True)
    run("127.0.0.1", args.port, get_wsgi_application(), ipv6=False, threading=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

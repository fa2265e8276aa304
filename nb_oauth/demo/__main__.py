"""``python -m nb_oauth.demo``: run the demo authorization server in the foreground."""

from __future__ import annotations

import argparse
import sys

from .constants import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    DEMO_USERS,
    PUBLIC_CLIENT_ID,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nb_oauth.demo", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8750)
    parser.add_argument("--access-token-lifetime", type=int, default=300, metavar="SECONDS")
    parser.add_argument("--refresh-token-lifetime", type=int, default=86400, metavar="SECONDS")
    parser.add_argument("--device-interval", type=int, default=1, metavar="SECONDS")
    parser.add_argument("--jwt-access-tokens", action="store_true", help="issue RFC 9068 JWT access tokens")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument(
        "--front-channel-url",
        metavar="URL|auto",
        help="where browsers reach the sign-in, consent and device pages, e.g. "
        "https://hub.example/user/alice/proxy/8750 (jupyter-server-proxy); 'auto' works it out "
        "from the environment on every request; the other endpoints stay on the issuer URL",
    )
    args = parser.parse_args(argv)

    from .server import DemoServer

    try:
        server = DemoServer(
            host=args.host,
            port=args.port,
            access_token_lifetime=args.access_token_lifetime,
            refresh_token_lifetime=args.refresh_token_lifetime,
            device_interval=args.device_interval,
            jwt_access_tokens=args.jwt_access_tokens,
            log_requests=not args.quiet,
            front_channel_url=args.front_channel_url or None,
        )
    except ValueError as error:  # a malformed --front-channel-url
        parser.error(str(error))
    try:
        server.start()
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    front = ""
    if args.front_channel_url:
        from ..redirect.callback import detect_environment

        shown = server.front_channel_url or "on the issuer URL"
        if not server.front_channel_url and detect_environment().remote:
            shown = ("none known, so they are on the issuer URL, which only this machine can open; set "
                     "NB_OAUTH_PUBLIC_URL to this Jupyter server's address as the browser shows it (or have the hub "
                     "set JUPYTERHUB_PUBLIC_URL), or pass --front-channel-url https://<hub>/user/<you>/proxy/<port>")
        mode = " (auto)" if args.front_channel_url == "auto" else ""
        front = f"  login pages:   {shown}{mode}\n"
    logins = ", ".join(f"{user} / {password}" for user, password in DEMO_USERS.items())
    print(
        f"nb_oauth demo authorization server\n"
        f"  issuer:        {server.url}\n"
        f"  discovery:     {server.endpoints['openid_configuration']}\n"
        f"{front}"
        f"  public client: {PUBLIC_CLIENT_ID} (no secret)\n"
        f"  confidential:  {CONFIDENTIAL_CLIENT_ID} / {CONFIDENTIAL_CLIENT_SECRET}\n"
        f"  demo login:    {logins}\n"
        f"Press Ctrl+C to stop.",
        flush=True,
    )
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`python -m helpers webhooks serve|check`: the receiver in the foreground, and the endpoint checker."""
from __future__ import annotations

import argparse
import logging
import sqlite3
import sys

from ..serving import serve_forever
from ..errors import ConfigError
from ..i18n import N_, _
from ..validate import env_name, secret_from_env
from .checker import check_endpoint, format_report
from .local_receiver import receiver_state, stop_local_receiver
from .receiver import SERVER_BODY_LIMIT, make_app
from .store import StoreWriter

EXIT_CONFIG = 2


def add_parser(commands) -> None:
    parser = commands.add_parser("webhooks", help=_("webhook receiver with a durable store; endpoint checker acting as Meta"))
    actions = parser.add_subparsers(dest="webhooks_command", metavar="ACTION", required=True)

    serve = actions.add_parser("serve", help=_("receive webhooks into a SQLite store until Ctrl-C / SIGTERM"))
    serve.add_argument("--port", type=int, required=True, help=_("port to listen on (0 picks a free one)"))
    serve.add_argument("--host", default="127.0.0.1", help=_("address to listen on (default 127.0.0.1)"))
    serve.add_argument("--db", default="webhooks.sqlite", help=_("SQLite file of the store (default webhooks.sqlite)"))
    serve.add_argument("--log-requests", action="store_true",
                       help=_("log every request with its status (rejected signatures, bad tokens, ...) to stderr"))
    _secret_env_arguments(serve)
    serve.set_defaults(handler=serve_command)

    check = actions.add_parser("check", help=_("act as Meta against a callback URL; exit 0 only when every check passes"))
    check.add_argument("url", help=_("the callback URL as entered in the App Dashboard"))
    check.add_argument("--timeout", type=float, default=10.0, help=_("seconds to wait for each answer (default 10)"))
    _secret_env_arguments(check)
    check.set_defaults(handler=check_command)

    stop = actions.add_parser("stop", help=_("stop the local receiver that notebook 04 started for a store"))
    stop.add_argument("--db", required=True, help=_("SQLite file of the receiver's store (its webhook_db)"))
    stop.set_defaults(handler=stop_command)


def _secret_env_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verify-token-env", default="WHATSAPP_VERIFY_TOKEN",
                        help=_("NAME of the environment variable holding the verify token (default "
                               "WHATSAPP_VERIFY_TOKEN)"))
    parser.add_argument("--app-secret-env", default="WHATSAPP_APP_SECRET",
                        help=_("NAME of the environment variable holding the app secret (default WHATSAPP_APP_SECRET)"))


def serve_command(args: argparse.Namespace) -> int:
    try:
        verify_token = secret_from_env(env_name(args.verify_token_env, "--verify-token-env"),
                                       N_("webhook verify token"))
        app_secret = secret_from_env(env_name(args.app_secret_env, "--app-secret-env"), N_("app secret"))
    except ConfigError as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return EXIT_CONFIG
    writer = StoreWriter(args.db)
    logging.basicConfig(level=logging.INFO if args.log_requests else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(message)s")

    def banner(url: str) -> None:
        print(_("Webhook receiver at {url} (store: {db}). Ctrl-C to stop.").format(url=f"{url}/webhook", db=args.db),
              flush=True)

    try:
        serve_forever(make_app(writer, verify_token, app_secret), args.host, args.port, banner=banner,
                      max_body_size=SERVER_BODY_LIMIT, on_start=writer.open, on_stop=writer.close)
    except (OSError, sqlite3.Error) as exc:  # port in use, unwritable store
        print(_("error: cannot serve on {address} with store {db}: {problem}").format(
            address=f"{args.host}:{args.port}", db=args.db, problem=exc), file=sys.stderr)
        return 1
    return 0


def check_command(args: argparse.Namespace) -> int:
    try:
        frame = check_endpoint(args.url, verify_token_env=args.verify_token_env,
                               app_secret_env=args.app_secret_env, timeout=args.timeout)
    except ConfigError as exc:
        print(_("error: {problem}").format(problem=exc), file=sys.stderr)
        return EXIT_CONFIG
    print(_("Acting as Meta against {url}").format(url=args.url) + "\n")
    print(format_report(frame))
    return 0 if frame["passed"].all() else 1


def stop_command(args: argparse.Namespace) -> int:
    state = receiver_state(args.db)
    if state is None:
        print(_("no local webhook receiver of ours is running for {db}").format(db=args.db))
        return 0
    stop_local_receiver(args.db)
    print(_("stopped the webhook receiver (pid {pid}) for {db}").format(pid=state["pid"], db=args.db))
    return 0

"""``python -m harbor_bank serve [--port 8081]`` runs the bank;
``python -m harbor_bank add-customer USERNAME "Full Name" [--since YEAR]`` opens
an account (the password is read from stdin). Configuration: see :mod:`harbor_bank.config`."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

import uvicorn

from .accounts import Accounts
from .app import create_app
from .config import BankConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="harbor_bank")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the bank's web app")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8081)
    add = commands.add_parser("add-customer", help="open a customer account")
    add.add_argument("username")
    add.add_argument("full_name")
    add.add_argument("--since", type=int, help="the year the customer joined the bank")
    args = parser.parse_args(argv)

    if args.command == "serve":
        bound = f"http://{args.host}:{args.port}"
        config = BankConfig.from_env(default_public_url=bound)
        uvicorn.run(create_app(config), host=args.host, port=args.port)
    else:
        password = sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass()
        database = os.environ.get("BANK_DATABASE", "var/harbor_bank.db")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        customer = Accounts(database).add(args.username, args.full_name, password, since=args.since)
        print(f"opened an account for {customer.full_name} ({customer.username})")


if __name__ == "__main__":
    main()

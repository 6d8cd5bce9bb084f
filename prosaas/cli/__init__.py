"""The `prosaas` command: where the floors are wired together into roles and admin tools."""
from __future__ import annotations

import argparse
import sys

from prosaas.settings import SettingsError, get_settings


def build_parser() -> argparse.ArgumentParser:
    from prosaas.cli import admin, info, roles

    parser = argparse.ArgumentParser(prog="prosaas", description="Multi-tenant background jobs on Dramatiq.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    roles.add_commands(commands)
    admin.add_commands(commands)
    info.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    for note in settings.legacy_notes:  # the replaced system's names: accepted, said once at start
        print(note, file=sys.stderr)
    from prosaas.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    return int(args.handler(args, settings) or 0)

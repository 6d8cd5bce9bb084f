"""The `prosaas` command: where the floors are wired together into roles and admin tools."""
from __future__ import annotations

import argparse
import sys

from prosaas.settings import SettingsError, get_settings

# Commands that act with this shell's settings; the others (admin and inspection) also take the
# running stack's settings for whatever this shell does not set.
OWN_SETTINGS_COMMANDS = {"run", "stop", "status", "reload", "web", "worker", "scheduler", "migrate", "embedded-redis"}


def build_parser() -> argparse.ArgumentParser:
    from prosaas.cli import admin, bulk, info, lifecycle, queues, roles

    parser = argparse.ArgumentParser(prog="prosaas", description="Multi-tenant background jobs on Dramatiq.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    lifecycle.add_commands(commands)
    roles.add_commands(commands)
    admin.add_commands(commands)
    info.add_commands(commands)
    queues.add_commands(commands)
    bulk.add_commands(commands)
    return parser


def describe_backends(settings, adopted: list[str]) -> str | None:
    """One line naming the database and Redis in use, when they are not the defaults (passwords hidden)."""
    from sqlalchemy.engine import make_url

    if settings.database_url is None and settings.redis_url is None and settings.redis_namespace == "prosaas":
        return None
    database = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    redis = make_url(settings.effective_redis_url).render_as_string(hide_password=True) \
        if settings.redis_url else settings.effective_redis_url
    source = f" ({', '.join(sorted(adopted))} from the running stack)" if adopted else ""
    return f"prosaas: database {database}; redis {redis} namespace {settings.redis_namespace}{source}"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    adopted = []
    if args.command not in OWN_SETTINGS_COMMANDS:
        from prosaas.cli.run_state import adopt_stack_environment

        adopted = adopt_stack_environment()
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    for note in settings.legacy_notes:  # the replaced system's names: accepted, said once at start
        print(note, file=sys.stderr)
    from prosaas.file_modes import make_files_private
    from prosaas.logs import configure_logging

    make_files_private(settings.data_dir)  # umask 077: inherited by every role this command execs
    quiet = args.command not in OWN_SETTINGS_COMMANDS and settings.log_level != "DEBUG"
    # An admin command's output is its answer: the INFO events of the code it calls (JOB_ENQUEUED, ...) are not.
    configure_logging("WARNING" if quiet else settings.log_level, settings.log_format)
    backends = describe_backends(settings, adopted)
    if backends and args.command != "embedded-redis":
        print(backends, file=sys.stderr, flush=True)
    return int(args.handler(args, settings) or 0)

"""What the running stack was started with: a fingerprint of its settings and the environment it got.

`prosaas run` writes `var/run-state.json` (mode 0600: it holds the environment's settings, secrets
included, like `prosaas.env`). A later `prosaas run` compares fingerprints to decide between "already
running" and a full restart; the admin commands read the environment so that a shell without the
stack's `DATABASE_URL` still talks to the stack's database.
"""
from __future__ import annotations

import hashlib
import json
import os

from prosaas.install import INSTALL_DIR

STATE_FILE = INSTALL_DIR / "var" / "run-state.json"
PER_PROGRAM = {"service_role", "run_migrations"}  # set by supervisord.conf for each program, not by the operator


def setting_names() -> dict[str, str]:
    """{field name: environment variable name} for every setting."""
    from prosaas.settings import Settings

    return {name: (info.alias or name).upper() for name, info in Settings.model_fields.items()}


def fingerprint(settings) -> dict[str, str]:
    """{environment variable name: digest of its effective value}, plus the supervisord configuration."""
    from prosaas.cli.stack import PROGRAMS_DIR, SUPERVISORD_CONF

    values = settings.model_dump(mode="json")
    # Fields excluded from a dump (legacy names such as RQ_QUEUES, already folded into their successors) are
    # fingerprinted through the setting they feed.
    digests = {env: _digest(values[name]) for name, env in setting_names().items()
               if name not in PER_PROGRAM and name in values}
    conf = SUPERVISORD_CONF.read_bytes() + b"".join(p.read_bytes() for p in sorted(PROGRAMS_DIR.glob("*.conf")))
    digests["supervisord.conf"] = _digest(conf.decode(errors="replace"))
    return digests


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def write_state(settings) -> None:
    names = set(setting_names().values())
    environment = {key: value for key, value in os.environ.items() if key.upper() in names}
    STATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(STATE_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as sink:
        json.dump({"fingerprint": fingerprint(settings), "environment": environment}, sink)


def read_state() -> dict | None:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return None


def clear_state() -> None:
    STATE_FILE.unlink(missing_ok=True)


def changed_settings(settings) -> list[str] | None:
    """Names of the settings that differ from the running stack's (None when it recorded nothing)."""
    state = read_state()
    if state is None:
        return None
    now, then = fingerprint(settings), state.get("fingerprint", {})
    return sorted(name for name in now.keys() | then.keys() if now.get(name) != then.get(name))


def adopt_stack_environment() -> list[str]:
    """Fill in, from the running stack, the settings this shell's environment lacks; returns their names.

    The environment still wins where it sets a value, so the precedence stays: environment, then the
    running stack's environment, then prosaas.env.
    """
    from prosaas.cli.stack import supervisord_pid

    state = read_state() if supervisord_pid() is not None else None
    adopted = []
    for name, value in (state or {}).get("environment", {}).items():
        if name not in os.environ:
            os.environ[name] = value
            adopted.append(name)
    return adopted

"""The process's shared handles (settings, database, Redis), built once from settings."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from db import Database
from prosaas.redis_client import redis_client
from prosaas.redis_protocol import Keys
from prosaas.settings import Settings, get_settings


@dataclass
class Runtime:
    settings: Settings
    database: Database
    keys: Keys

    @property
    def redis(self):
        settings = self.settings
        return redis_client(settings.effective_redis_url, settings.sentinel_addresses,
                            settings.redis_sentinel_master, settings.redis_sentinel_password)


@functools.lru_cache(maxsize=1)
def get_runtime() -> Runtime:
    settings = get_settings()
    return Runtime(settings=settings, database=Database(settings.effective_database_url),
                   keys=Keys(settings.redis_namespace))


def broker_runtime() -> Runtime:
    """The runtime the global broker was built with: inside an actor, the worker's own handles.

    `build_broker(runtime)` records it on the broker, so actor code is handed its dependencies by the role
    entry point that built the broker instead of reaching for process-wide state.
    """
    from prosaas.broker_stack import installed_broker  # (it imports this module)

    return installed_broker().runtime


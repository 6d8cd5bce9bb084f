"""The one typed settings object: read once from the environment (and `prosaas.env`)."""
from __future__ import annotations

import functools
import os
import sys
import zoneinfo
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from prosaas.clients.guarded_http import AllowList
from prosaas.install import ENV_FILE, INSTALL_DIR

PRIORITY_QUEUE = "high"  # work a person is waiting for; its own worker process
ALL_QUEUES = (PRIORITY_QUEUE, "default", "low", "recordings", "maintenance", "broadcasts")
LANGUAGE_CODE = r"^[a-z]{2,3}$"  # ISO 639-1 (or -3) code, as speech-to-text services take it
IGNORED_LEGACY_QUEUES = ("receipts_sync", "receipts")  # queues of old; their work is done in `maintenance`
CALLS_ROLE_REFUSAL = ("prosaas: SERVICE_ROLE=calls: the realtime calls role (Twilio media streams, live "
                      "speech-to-text) is not part of prosaas; run it as its own service (see docs/MIGRATING.md)")


class SettingsError(SystemExit):
    """Raised at start when a setting is missing or malformed; the message names it."""


class Settings(BaseSettings):
    # The environment overrides prosaas.env; both are read from the install, not the working directory.
    model_config = SettingsConfigDict(env_file=ENV_FILE, extra="ignore", case_sensitive=False)

    database_url: Optional[str] = None
    redis_url: Optional[str] = None
    redis_sentinels: Optional[str] = None  # host:port,…: find the master through Sentinel (REDIS_URL: db, password)
    redis_sentinel_master: Optional[str] = Field(default=None, validate_default=True)
    redis_sentinel_password: str = ""
    redis_namespace: str = Field(default="prosaas", alias="PROSAAS_REDIS_NAMESPACE", pattern=r"^[A-Za-z0-9_.-]+$")
    data_dir: Path = Field(default=Path("var"), alias="PROSAAS_DATA_DIR")
    bind: str = Field(default="127.0.0.1:8000", alias="PROSAAS_BIND", pattern=r"^[^:\s]*:\d{1,5}$")
    service_role: Literal["web", "worker", "scheduler", "all"] = "all"
    run_migrations: bool = False
    worker_queues: Optional[str] = None
    # Names of the replaced system, read and translated by `_legacy_names` (see docs/MIGRATING.md).
    rq_queues: Optional[str] = Field(default=None, alias="RQ_QUEUES", exclude=True)
    enable_schedulers: Optional[str] = Field(default=None, alias="ENABLE_SCHEDULERS", exclude=True)
    legacy_notes: tuple[str, ...] = Field(default=(), exclude=True)  # one deprecation line each, said at start
    worker_processes: int = Field(default=2, ge=1, le=64)
    worker_greenlets: int = Field(default=50, ge=1, le=2000)
    worker_shutdown_grace_seconds: int = Field(default=30, ge=1, le=3600)
    web_workers: int = Field(default=2, ge=1, le=64)
    recordings_per_business: int = Field(default=3, ge=1, le=100)
    recordings_retention_days: int = Field(default=7, ge=1)
    recordings_delete_at_twilio: bool = False  # cleanup also deletes Twilio's copy (twilio library)
    # Per-business concurrency of the other tenant-triggered actors (0: no limit), the API's per-key rate.
    sessions_per_business: int = Field(default=2, ge=0, le=1000)
    push_per_business: int = Field(default=5, ge=0, le=1000)
    whatsapp_per_business: int = Field(default=5, ge=0, le=1000)
    diagnostics_per_business: int = Field(default=2, ge=0, le=1000)
    api_rate_per_key: float = Field(default=20, ge=0)  # requests per second, sustained; 0 turns the limit off
    api_rate_burst: int = Field(default=100, ge=1)
    session_max_seconds: int = Field(default=4 * 3600, ge=1)  # longest audio session accepted
    recording_stuck_after_seconds: int = Field(default=60, ge=1)  # a playback download with no progress
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_recording_hosts: str = "api.twilio.com"
    twilio_api_base_url: str = Field(default="https://api.twilio.com", pattern=r"^https?://[^\s]+$")
    twilio_callback_secret: str = ""  # empty: callback tokens are keyed with TWILIO_AUTH_TOKEN
    recording_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    push_endpoint_hosts: str = "fcm.googleapis.com,.push.services.mozilla.com,web.push.apple.com,.notify.windows.com"
    public_base_url: Optional[str] = None
    whatsapp_webhook_secret: str = ""
    baileys_url: Optional[str] = None
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:ops@example.invalid"
    storage_url: Optional[str] = None
    s3_endpoint_url: Optional[str] = None
    admin_token: str = ""  # empty: ops endpoints and the dashboard refuse everyone; else at least 32 characters
    trusted_proxies: str = ""  # addresses/networks whose X-Forwarded-For is believed (comma list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    body_read_timeout_seconds: float = Field(default=10, gt=0, le=3600)  # a slower body gets 408 + close
    reminder_offsets_minutes: str = "30,15,5"
    broadcast_delay_seconds: str = "3-4"
    broadcast_retry_seconds: float = Field(default=10, gt=0)  # first wait when the WhatsApp session is down
    receipts_backoff_base_seconds: float = Field(default=2, gt=0)  # 2 -> 4 -> 8 -> 16 -> 30 s (cap 15x base)
    receipts_delete_time_limit_seconds: int = Field(default=30 * 60, ge=1)  # each message; a long job hands on
    receipt_max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    transcription_url: Optional[str] = None
    transcription_api_key: str = ""
    transcription_model: str = Field(default="whisper-1", min_length=1, max_length=100)
    transcription_language: Optional[str] = Field(default=None, pattern=LANGUAGE_CODE)  # ISO 639-1, e.g. he
    responder_url: Optional[str] = None
    responder_api_key: str = ""
    # Job machinery tuning (seconds unless named otherwise).
    slot_lease_seconds: int = Field(default=60, ge=5)
    slot_queued_lease_seconds: int = Field(default=600, ge=5)  # a slot given at enqueue, until the job starts
    worker_heartbeat_seconds: float = Field(default=5, gt=0)
    worker_dead_after_seconds: int = Field(default=30, ge=5)
    job_stale_after_seconds: int = Field(default=120, ge=5)
    max_crash_redeliveries: int = Field(default=3, ge=1)
    scheduler_timezone: str = "UTC"  # the zone cron specs are read in, e.g. Asia/Jerusalem
    reconcile_after_seconds: int = Field(default=60, ge=1)  # a tracked job without a message is sent again
    dead_letter_ttl_seconds: int = Field(default=86400, ge=1)
    jobs_retention_days: int = Field(default=14, ge=1)  # finished job rows are deleted after this
    failed_jobs_retention_days: int = Field(default=30, ge=1)
    # Test-only speed-up: real seconds one scheduler minute lasts (60 in production).
    scheduler_tick_seconds: float = Field(default=60, ge=0.5, le=60)

    @model_validator(mode="before")
    @classmethod
    def _legacy_names(cls, data):
        """SERVICE_ROLE=api, RQ_QUEUES, ENABLE_SCHEDULERS, `receipts_sync` in a queue list: accepted, noted."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        notes = []
        role = data.get("service_role")
        if isinstance(role, str) and role.strip().lower() == "calls":
            raise SettingsError(CALLS_ROLE_REFUSAL)
        if isinstance(role, str) and role.strip().lower() == "api":
            data["service_role"] = "web"
            notes.append("SERVICE_ROLE=api is read as SERVICE_ROLE=web")
        legacy_queues = data.get("RQ_QUEUES", data.get("rq_queues"))
        if legacy_queues is not None:
            if data.get("worker_queues"):
                notes.append("RQ_QUEUES is ignored: WORKER_QUEUES is set and wins")
            else:
                data["worker_queues"] = legacy_queues
                notes.append("RQ_QUEUES is read as WORKER_QUEUES; rename it")
        if data.get("ENABLE_SCHEDULERS", data.get("enable_schedulers")) is not None:
            notes.append("ENABLE_SCHEDULERS is ignored: periodic work runs only in the scheduler role")
        queues = data.get("worker_queues")
        if isinstance(queues, str):
            _, ignored = split_queue_list(queues)
            if ignored:
                notes.append(f"queue {','.join(ignored)} in the queue list is ignored: its work runs on `maintenance`")
        data["legacy_notes"] = tuple(f"prosaas: deprecated: {note}" for note in notes)
        return data

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value):
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url", "redis_url", "baileys_url", "public_base_url", "storage_url",
                     "s3_endpoint_url", "transcription_url", "responder_url", "worker_queues", "transcription_language",
                     "redis_sentinels", "redis_sentinel_master", mode="before")
    @classmethod
    def _blank_is_unset(cls, value):
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("data_dir")
    @classmethod
    def _data_dir_in_install(cls, value):
        return value if value.is_absolute() else INSTALL_DIR / value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value):
        if value and not value.startswith(("postgresql", "postgres://", "sqlite")):
            raise ValueError("must start with postgresql:// or sqlite:///")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value):
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinel_addresses(cls, value):
        if value is None:
            return None
        for entry in value.split(","):
            host, _, port = entry.strip().rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{entry.strip()!r} is not host:port; give a comma list like 10.0.0.5:26379,…")
        return value

    @field_validator("redis_sentinel_master")
    @classmethod
    def _sentinel_needs_master(cls, value, info):
        if info.data.get("redis_sentinels") and not value:
            raise ValueError("must name the master when REDIS_SENTINELS is set")
        return value

    @field_validator("twilio_recording_hosts", "push_endpoint_hosts")
    @classmethod
    def _allow_list(cls, value, info):
        AllowList.parse(value, info.field_name.upper())  # a malformed entry stops the start, named
        return value

    @field_validator("public_base_url")
    @classmethod
    def _public_origin(cls, value):
        if value and (not value.startswith(("https://", "http://")) or "?" in value or "#" in value):
            raise ValueError("must be the public http(s) URL the web role is reached at, without query")
        return value

    @field_validator("worker_queues")
    @classmethod
    def _known_queues(cls, value):
        if value is None:
            return None
        names, _ignored = split_queue_list(value)
        unknown = [q for q in names if q not in ALL_QUEUES]
        if unknown or not names:
            raise ValueError(f"unknown queue(s) {unknown or value!r}; known: {', '.join(ALL_QUEUES)}")
        return ",".join(names)

    @field_validator("admin_token")
    @classmethod
    def _long_admin_token(cls, value):
        if value and len(value) < 32:
            raise ValueError("must be at least 32 characters (generate one: openssl rand -hex 32)")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value):
        import ipaddress

        for entry in (e.strip() for e in value.split(",")):
            if entry:
                try:
                    ipaddress.ip_network(entry, strict=False)
                except ValueError:
                    raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None
        return value

    @field_validator("scheduler_timezone")
    @classmethod
    def _known_zone(cls, value):
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as UTC or Asia/Jerusalem") from None
        return value

    @field_validator("reminder_offsets_minutes")
    @classmethod
    def _offsets(cls, value):
        try:
            offsets = [int(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise ValueError("must be a comma list of whole minutes, e.g. 30,15,5") from None
        if not offsets or any(o <= 0 for o in offsets):
            raise ValueError("must be a comma list of positive minutes, e.g. 30,15,5")
        return value

    @field_validator("broadcast_delay_seconds")
    @classmethod
    def _delay_range(cls, value):
        try:
            parts = [float(p) for p in value.split("-")]
        except ValueError:
            raise ValueError("must be seconds or a range like 3-4") from None
        if len(parts) not in (1, 2) or any(p < 0 for p in parts) or parts[0] > parts[-1]:
            raise ValueError("must be seconds or a range like 3-4")
        return value

    # Derived values: one place knows each default.
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'prosaas.db').resolve()}"

    @property
    def embedded_redis_socket(self) -> Path:
        return (self.data_dir / "redis.sock").resolve()

    @property
    def uses_embedded_redis(self) -> bool:
        return self.redis_url is None and not self.redis_sentinels

    @property
    def effective_redis_url(self) -> str:
        if self.redis_url:
            return self.redis_url
        return "redis://" if self.redis_sentinels else f"unix://{self.embedded_redis_socket}"

    @property
    def sentinel_addresses(self) -> tuple[tuple[str, int], ...]:
        entries = [e.strip().rpartition(":") for e in (self.redis_sentinels or "").split(",") if e.strip()]
        return tuple((host.strip("[]"), int(port)) for host, _, port in entries)

    @property
    def consumed_queues(self) -> list[str]:
        return self.worker_queues.split(",") if self.worker_queues else list(ALL_QUEUES)

    @property
    def scheduler_zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.scheduler_timezone)

    @property
    def recording_allow_list(self) -> AllowList:
        return AllowList.parse(self.twilio_recording_hosts, "TWILIO_RECORDING_HOSTS")

    @property
    def push_allow_list(self) -> AllowList:
        return AllowList.parse(self.push_endpoint_hosts, "PUSH_ENDPOINT_HOSTS")

    @property
    def trusted_proxy_networks(self) -> tuple:
        import ipaddress

        return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in self.trusted_proxies.split(",")
                     if e.strip())

    @property
    def reminder_offsets(self) -> list[int]:
        return sorted({int(v) for v in self.reminder_offsets_minutes.split(",") if v.strip()}, reverse=True)

    @property
    def broadcast_delay_range(self) -> tuple[float, float]:
        parts = [float(p) for p in self.broadcast_delay_seconds.split("-")]
        return parts[0], parts[-1]

    @property
    def effective_storage_url(self) -> str:
        return self.storage_url or f"file://{(self.data_dir / 'storage').resolve()}"


def split_queue_list(value: str) -> tuple[list[str], list[str]]:
    """A comma list of queues -> (queues, legacy queue names accepted and ignored)."""
    names = [q.strip() for q in value.split(",") if q.strip()]
    return [q for q in names if q not in IGNORED_LEGACY_QUEUES], [q for q in names if q in IGNORED_LEGACY_QUEUES]


def _env_name(loc: tuple) -> str:
    field = str(loc[0]) if loc else "?"
    info = Settings.model_fields.get(field)
    return (info.alias if info and info.alias else field).upper()


def load_settings() -> Settings:
    """Read and validate settings; on error stop with one line naming the setting."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SettingsError(f"prosaas: invalid setting {_env_name(first['loc'])}: {first['msg']}") from None


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings_cache() -> None:
    """For tests and CLI re-reads after the environment changed."""
    get_settings.cache_clear()


if __name__ == "__main__":  # pragma: no cover - quick check: python -m prosaas.settings
    print(get_settings().model_dump_json(indent=2), file=sys.stdout)
    os._exit(0)

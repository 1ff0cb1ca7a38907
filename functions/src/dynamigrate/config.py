"""Handler configuration, read from the environment once at cold start.

Terraform sets these variables (modules/source, modules/target). A missing or
malformed variable fails the cold start with a message naming the variable and
the fix, instead of an obscure error on the first record.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from dynamigrate.changes import DEFAULT_MAX_OBJECT_BYTES

if TYPE_CHECKING:
    from collections.abc import Mapping

# Each function's POWERTOOLS_SERVICE_NAME (the Terraform modules set the same):
# Powertools adds it as the ``service`` dimension of every metric, so a metric
# query or alarm must name it beside ``Migration``.
STREAM_SERVICE = "dynamigrate-stream-to-s3"
WRITER_SERVICE = "dynamigrate-writer"
WRITE_GUARD_SERVICE = "dynamigrate-write-guard"


def metric_dimensions(migration: str, service: str) -> list[dict[str, str]]:
    """The dimensions of a dynamigrate metric, as Powertools publishes them."""
    return [{"Name": "Migration", "Value": migration}, {"Name": "service", "Value": service}]


_HINT = "it is set by the dynamigrate Terraform module; was the function deployed or edited outside Terraform?"
_ACCOUNT = re.compile(r"^[0-9]{12}$")


class ConfigError(RuntimeError):
    """The function's environment is incomplete or invalid."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is not set: {_HINT}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name}={raw!r} is not an integer") from exc
    if not low <= value <= high:
        raise ConfigError(f"environment variable {name}={value} is outside {low}..{high}")
    return value


def _prefix(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    return value if value.endswith("/") else value + "/"


@dataclass(frozen=True)
class StreamToS3Config:
    bucket: str
    prefix: str
    bucket_owner: str | None
    source_table: str
    kms_key_arn: str | None
    migration: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StreamToS3Config:
        env = os.environ if env is None else env
        owner = env.get("CHANGE_BUCKET_OWNER", "").strip() or None
        if owner is not None and not _ACCOUNT.match(owner):
            raise ConfigError(f"environment variable CHANGE_BUCKET_OWNER={owner!r} is not a 12-digit account id")
        return cls(
            bucket=_required(env, "CHANGE_BUCKET_NAME"),
            prefix=_prefix(env, "CHANGE_PREFIX", "changes/"),
            bucket_owner=owner,
            source_table=_required(env, "SOURCE_TABLE_NAME"),
            kms_key_arn=env.get("KMS_KEY_ARN", "").strip() or None,
            migration=env.get("MIGRATION_NAME", "").strip() or "default",
        )


@dataclass(frozen=True)
class WriterConfig:
    table: str
    ledger_table: str
    bucket: str
    prefix: str
    dead_letter_prefix: str
    version_attribute: str | None
    ledger_retention_seconds: int
    max_object_bytes: int
    threads: int
    migration: str
    transform: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WriterConfig:
        env = os.environ if env is None else env
        config = cls(
            table=_required(env, "TARGET_TABLE_NAME"),
            ledger_table=_required(env, "LEDGER_TABLE_NAME"),
            bucket=_required(env, "CHANGE_BUCKET_NAME"),
            prefix=_prefix(env, "CHANGE_PREFIX", "changes/"),
            dead_letter_prefix=_prefix(env, "DEAD_LETTER_PREFIX", "dead-letter/"),
            version_attribute=env.get("VERSION_ATTRIBUTE", "").strip() or None,
            ledger_retention_seconds=_int(env, "LEDGER_RETENTION_SECONDS", 14 * 86400, 3600, 366 * 86400),
            max_object_bytes=_int(env, "MAX_OBJECT_BYTES", DEFAULT_MAX_OBJECT_BYTES, 1024, 1024**3),
            threads=_int(env, "WRITER_THREADS", 8, 1, 64),
            migration=env.get("MIGRATION_NAME", "").strip() or "default",
            transform=env.get("TRANSFORM", "").strip() or None,
        )
        if config.dead_letter_prefix.startswith(config.prefix) or config.prefix.startswith(config.dead_letter_prefix):
            raise ConfigError(
                f"DEAD_LETTER_PREFIX {config.dead_letter_prefix!r} and CHANGE_PREFIX {config.prefix!r} overlap: "
                "parked records would trigger the writer again"
            )
        return config


@dataclass(frozen=True)
class LoaderConfig:
    """The export loader (modules/target, ``export_load``): export data files -> target table."""

    table: str
    ledger_table: str
    bucket: str
    export_prefix: str
    load_prefix: str
    dead_letter_prefix: str
    version_attribute: str | None
    ledger_retention_seconds: int
    threads: int
    write_units_per_second: int | None
    transform: str | None
    migration: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LoaderConfig:
        env = os.environ if env is None else env
        units = _int(env, "WRITE_UNITS_PER_SECOND", 0, 0, 10_000_000)
        config = cls(
            table=_required(env, "TARGET_TABLE_NAME"),
            ledger_table=_required(env, "LEDGER_TABLE_NAME"),
            bucket=_required(env, "EXPORT_BUCKET_NAME"),
            export_prefix=_prefix(env, "EXPORT_PREFIX", "exports/"),
            load_prefix=_prefix(env, "LOAD_PREFIX", "export-loads/"),
            dead_letter_prefix=_prefix(env, "DEAD_LETTER_PREFIX", "dead-letter/"),
            version_attribute=env.get("VERSION_ATTRIBUTE", "").strip() or None,
            ledger_retention_seconds=_int(env, "LEDGER_RETENTION_SECONDS", 14 * 86400, 3600, 366 * 86400),
            threads=_int(env, "LOADER_THREADS", 16, 1, 64),
            write_units_per_second=units or None,
            transform=env.get("TRANSFORM", "").strip() or None,
            migration=env.get("MIGRATION_NAME", "").strip() or "default",
        )
        prefixes = {"EXPORT_PREFIX": config.export_prefix, "LOAD_PREFIX": config.load_prefix}
        prefixes["DEAD_LETTER_PREFIX"] = config.dead_letter_prefix
        for name, value in prefixes.items():
            for other, other_value in prefixes.items():
                if name < other and (value.startswith(other_value) or other_value.startswith(value)):
                    raise ConfigError(f"{name} {value!r} and {other} {other_value!r} overlap")
        return config


def moved_at(raw: str, name: str = "WRITES_MOVED_AT") -> float | None:
    """An RFC 3339 time (``2026-11-24T10:00:00Z``) as epoch seconds; empty means not declared yet."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an RFC 3339 time such as 2026-11-24T10:00:00Z") from exc
    if parsed.tzinfo is None:
        raise ConfigError(f"{name}={raw!r} has no time zone: write it in UTC, e.g. 2026-11-24T10:00:00Z")
    return parsed.timestamp()


@dataclass(frozen=True)
class WriteGuardConfig:
    """The old table's write guard (modules/write-guard): after ``writes_moved_at``, every write is foreign."""

    table: str
    writes_moved_at: float | None
    migration: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WriteGuardConfig:
        env = os.environ if env is None else env
        return cls(
            table=_required(env, "GUARDED_TABLE_NAME"),
            writes_moved_at=moved_at(env.get("WRITES_MOVED_AT", "")),
            migration=env.get("MIGRATION_NAME", "").strip() or "default",
        )

"""Service settings: environment variables ``GENCREDITS_*`` over an optional config file.

Precedence, highest first: explicit overrides (CLI flags) > environment variables >
the config file named by ``GENCREDITS_CONFIG`` (or passed in) > defaults.  The file is
TOML (``.toml``) or YAML (``.yaml``/``.yml``) with the same keys as the fields below,
lower-case and without the prefix::

    database_url = "postgresql+psycopg://gencredits@127.0.0.1/gencredits"
    catalog_files = ["/etc/gencredits/house.yaml"]
    hold_ttl_s_default = 1800
    extra_charge_share = "0.25"
    callback_secret = "..."

A bad value is an :class:`~gencredits.errors.InvalidSetting` naming the setting, the
value and what is allowed: a service never starts half-configured.
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict

from gencredits import limits
from gencredits.errors import InvalidRequest, InvalidSetting
from gencredits.shards import check_shard_count

__all__ = ["DEFAULT_DATABASE_URL", "Settings", "load_settings", "read_config_file"]

DEFAULT_DATABASE_URL = "sqlite:///./var/gencredits.db"
ENV_PREFIX = "GENCREDITS_"
CONFIG_ENV = "GENCREDITS_CONFIG"
#: The ledger's own ceiling on a hold's time limit (a week).
HOLD_TTL_S_LIMIT = limits.HOLD_TTL_S_MAX


class Settings(BaseSettings):
    """Everything an operator can set.  Units last: ``_s`` seconds."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: the embedded SQLite file, or postgresql+psycopg://...",
    )
    db_timeout_s: float = Field(
        5.0,
        ge=1,
        le=300,
        description="The longest a request waits on a stalled PostgreSQL before it is answered "
        "503 unavailable: a write waits this long for its group commit, and each wait on the "
        "server (connecting, a statement, a commit) at most half of it (statement_timeout and "
        "lock_timeout are set to 80 % of that half; TCP keepalives and tcp_user_timeout "
        "notice a vanished server).",
    )
    database_pooled: bool = Field(
        False,
        description="The database URL points at a connection pooler in transaction mode "
        "(pgbouncer): no prepared statements and no session settings on connect (set "
        "statement_timeout on the role: ALTER ROLE ... SET statement_timeout = '2s').",
    )
    catalog_files: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Extra catalog YAML files loaded beside the bundled ones "
        "(environment: comma-separated paths).",
    )
    host: str = Field("127.0.0.1", description="Address `gencredits serve` binds.")
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes.")
    hold_ttl_s_default: int = Field(
        3600,
        ge=1,
        le=HOLD_TTL_S_LIMIT,
        description="Time limit of a hold when neither the wallet nor the job sets one.",
    )
    hold_ttl_s_max: int = Field(
        86400,
        ge=1,
        le=HOLD_TTL_S_LIMIT,
        description="Upper bound on any hold time limit a request may ask for.",
    )
    extra_charge_share: Decimal = Field(
        Decimal(0),
        ge=0,
        le=10,
        decimal_places=6,
        description="How much a completion may charge beyond its hold, as a share of the job's "
        "quote (rounded down to whole credits; a wallet's own share overrides it).  0: at most "
        "the hold is charged, the rest is written off.",
    )
    callback_secret: SecretStr | None = Field(
        None, description="Shared secret of provider callbacks (HMAC-SHA256); unset: refused."
    )
    callback_tolerance_s: int = Field(
        300, ge=1, le=3600, description="Callbacks with an older or future timestamp are refused."
    )
    stripe_webhook_secret: SecretStr | None = Field(
        None,
        description="The signing secret (whsec_...) of the Stripe webhook endpoint; unset: "
        "POST /v1/webhooks/stripe answers 503.",
    )
    stripe_tolerance_s: int = Field(
        300, ge=1, le=3600, description="Stripe events signed longer ago than this are refused."
    )
    group_commit: bool = Field(
        True,
        description="Batch each worker's ledger writes into shared transactions "
        "(one writer thread, one commit for many calls); false: one transaction per call.",
    )
    shard_count: int = Field(
        0,
        description="The shards the ledger is (or will be) split into by wallet (Citus "
        "hash ranges; a power of two up to 1024): each group-commit batch then holds units "
        "of one shard only.  0 or 1: batches mix every wallet (docs/scaling.md, Shard "
        "buckets).",
    )
    sweep_interval_s: int = Field(
        60, ge=0, description="How often the service sweeps expired holds and grants; 0: never."
    )
    webhook_interval_s: int = Field(
        5,
        ge=0,
        description="How often the service delivers outbound webhooks (new outbox events, "
        "retries that are due); 0: never (run `gencredits deliver` from cron instead).",
    )
    relay_nats_url: str | None = Field(
        None,
        description="A NATS server (nats://host:4222) the service publishes the outbox to, "
        "through JetStream, each event once by its id (`serve --relay URL`); unset: no relay "
        "(run `gencredits relay` instead, or none).",
    )
    relay_stream: str = Field(
        "GENCREDITS", pattern=r"^[A-Za-z0-9_-]{1,32}$", description="The relay's JetStream stream."
    )
    relay_subject: str = Field(
        "gencredits.events",
        pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,7}$",
        description="The relay's subject prefix: each event goes to PREFIX.<wallet id>.",
    )
    api_key_cache_ttl_s: float = Field(
        5.0,
        ge=0,
        le=300,
        description="How long a checked API key is trusted from memory (a revoked key stops "
        "working within this time).",
    )
    catalog_refresh_s: int = Field(
        2,
        ge=1,
        le=3600,
        description="How often a worker re-reads the published catalog versions; a version "
        "takes effect at least this long after it is published, on every worker at once.",
    )
    quote_validity_s: int = Field(
        900,
        ge=0,
        le=86400,
        description="How long after a price change a quote of the replaced version is "
        "honoured (quote_policy honour).",
    )
    idempotency_retention_days: int = Field(
        limits.IDEMPOTENCY_RETENTION_DAYS_DEFAULT,
        ge=limits.IDEMPOTENCY_RETENTION_DAYS_MIN,
        le=36500,
        description="How long an idempotency record is kept: a retry within it replays the "
        "first answer; after it the record is deleted by the sweep and a retry under the key "
        "is refused (the ledger keeps one effect per key for ever).  At least 7 days: clients "
        "and providers retry for days.",
    )
    outbox_retention_days: int = Field(
        limits.OUTBOX_RETENTION_DAYS_DEFAULT,
        ge=limits.OUTBOX_RETENTION_DAYS_MIN,
        le=36500,
        description="How long an outbox event is kept once the webhook deliverer and every "
        "relay have passed it (the sweep deletes it then); a reader of GET /v1/events that "
        "falls further behind misses what was deleted.  At least 1 day.",
    )
    quote_policy: Literal["honour", "refuse"] = Field(
        "honour",
        description="A submission carrying the quote of a replaced catalog version: honour "
        "(within quote_validity_s) or refuse (quote_expired).",
    )

    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins (https://shop.example) whose pages may call the API from a "
        "browser, e.g. the cost widget; none by default (environment: comma-separated).",
    )
    publishable_rate_per_min: int = Field(
        300, ge=1, le=1_000_000, description="Requests a minute a publishable key may send."
    )
    api_rate_per_min: int = Field(
        0, ge=0, le=1_000_000, description="Requests a minute any other key may send; 0: no limit."
    )
    web_publishable_key: str | None = Field(
        None,
        description="A publishable key the estimator page at / prices with (printed in the "
        "page, as any publishable key may be); unset: the page asks for one.",
    )

    @field_validator("catalog_files", "cors_origins", mode="before")
    @classmethod
    def _split_paths(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [p.strip() for p in value.split(",") if p.strip()]
        return value

    @field_validator("shard_count")
    @classmethod
    def _shard_count(cls, value: int) -> int:
        return check_shard_count(value)

    @field_validator("hold_ttl_s_max")
    @classmethod
    def _max_not_below_default(cls, value: int, info: Any) -> int:
        default = info.data.get("hold_ttl_s_default")
        if default is not None and value < default:
            raise ValueError(f"must be >= hold_ttl_s_default ({default})")
        return value


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a TOML or YAML config file (by extension)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRequest.for_field(
            "config_file", str(p), f"a readable TOML or YAML file ({exc.strerror or exc})"
        ) from None
    try:
        if p.suffix.lower() == ".toml":
            data: object = tomllib.loads(text)
        elif p.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise InvalidRequest.for_field(
                "config_file", str(p), "a file ending in .toml, .yaml or .yml"
            )
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise InvalidRequest.for_field(
            "config_file", str(p), f"valid TOML or YAML ({exc})"
        ) from None
    if not isinstance(data, dict):
        raise InvalidRequest.for_field("config_file", str(p), "a mapping of setting = value")
    return data


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from (lowest first) defaults, the config file, the environment, ``overrides``."""
    path = config_file or os.environ.get(CONFIG_ENV) or None
    file_values = read_config_file(path) if path else {}
    overrides = {k: v for k, v in overrides.items() if v is not None}
    try:
        # Settings() reads the environment itself; init values (file, overrides) would win
        # over it, so the environment's raw values are passed in above the file's.
        env_values = EnvSettingsSource(Settings)()
        return Settings(**{**file_values, **env_values, **overrides})
    except ValidationError as exc:
        raise _setting_error(exc) from None


def _setting_error(exc: ValidationError) -> InvalidSetting:
    first = exc.errors()[0]
    name = ".".join(str(part) for part in first["loc"]) or "settings"
    allowed = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        allowed = f"known settings: {', '.join(Settings.model_fields)}"
    error = InvalidSetting.for_field(name, first.get("input"), allowed)
    error.details["env"] = ENV_PREFIX + name.split(".")[0].upper()
    return error

"""Settings, declared once with defaults and help text (PORTAL_ environment prefix).

The table in docs/settings.md is generated from these fields (docs/gen_settings.py), and
tests/unit/test_settings_doc.py fails when it is out of date: write each description for readers.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from portal.config.groups import (
    STAFF_ROLES,
    AuditSettings,
    NotifySettings,
    OidcSettings,
    RedactionSettings,
)

__all__ = ["STAFF_ROLES", "Settings"]


class Settings(AuditSettings, NotifySettings, OidcSettings, RedactionSettings, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_", extra="ignore")

    data_dir: Path = Field(
        Path("portal-data"),
        description="Folder for the embedded database, local storage and keys.",
    )
    database_url: str = Field(
        "",
        description="SQLAlchemy URL of the database; empty means SQLite at DATA_DIR/portal.db.",
    )
    storage_url: str = Field(
        "",
        description="Where evidence bytes live: file:///FOLDER or s3://BUCKET/PREFIX; "
        "empty means file://DATA_DIR/storage.",
    )
    s3_endpoint_url: str = Field(
        "",
        description="S3 endpoint for s3:// storage (MinIO, Ceph, SeaweedFS); empty for AWS. "
        "Credentials come from the standard AWS sources.",
    )
    s3_region: str = Field("us-east-1", description="S3 region for s3:// storage.")
    s3_checksum: Literal["when_required", "when_supported"] = Field(
        "when_required",
        description="boto3 request checksum calculation; `when_required` is what "
        "S3-compatible stores accept.",
    )
    s3_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        "GOVERNANCE",
        description="Object Lock mode for retained originals when the bucket has Object Lock.",
    )
    host: str = Field("127.0.0.1", description="Address `portal serve` listens on.")
    port: int = Field(8000, description="Port `portal serve` listens on.")
    public_url: str = Field(
        "",
        description="Base URL clients reach the portal at; set it behind a proxy. "
        "Empty means the request's own base URL.",
    )
    max_upload_size: int = Field(
        20 * 1024**3, gt=0, description="Largest accepted file in bytes (tus Tus-Max-Size)."
    )
    upload_expiry: timedelta = Field(
        timedelta(days=3),
        description="How long an unfinished upload may be resumed (seconds, or ISO 8601 like "
        "`P3D`); after that the sweep ends it and deletes its bytes.",
    )
    upload_lock_lease: timedelta = Field(
        timedelta(seconds=15),
        description="Lease on an upload while one PATCH writes it (seconds, or ISO 8601); "
        "renewed while bytes flow.",
    )
    max_metadata_bytes: int = Field(
        4096, gt=0, description="Largest accepted tus Upload-Metadata header, in bytes."
    )
    contact_key_file: Path | None = Field(
        None,
        description="Key that encrypts witness contact details (mode 0600, never in the "
        "database); default DATA_DIR/keys/contact.key.",
    )
    log_origin: str = Field(
        "portal.invalid/custody",
        pattern=r"^[^\s+]+$",
        description="Origin line of custody-log checkpoints; name it after your deployment.",
    )
    log_key_file: Path | None = Field(
        None,
        description="Ed25519 key that signs checkpoints (mode 0600, never in the database); "
        "default DATA_DIR/keys/log.key.",
    )
    log_retention: timedelta = Field(
        timedelta(days=365 * 50),
        description="How long the custody log's tiles and checkpoints in storage stay locked "
        "against deletion (Object Lock on S3), from when each is written.",
    )
    checkpoint_interval: timedelta = Field(
        timedelta(minutes=5),
        description="How often a checkpoint is signed when events arrived since the last "
        "(seconds, or ISO 8601).",
    )
    checkpoint_batch_interval: timedelta = Field(
        timedelta(milliseconds=250),
        description="Shortest time between two checkpoints signed for new receipts while files "
        "keep arriving: one checkpoint covers every file received before its signing starts, "
        "so a crowd finishing together is not signed for one by one (seconds, or ISO 8601).",
    )
    tsa_url: str | None = Field(
        None,
        description="RFC 3161 Time-Stamping Authority that each signed checkpoint is sent to "
        "(after its commit; the periodic sweep retries checkpoints still without a token). "
        "Off by default.",
    )
    tsa_ca_bundle: Path | None = Field(
        None,
        description="PEM file of the TSA certificates to trust; when set, a token that does "
        "not chain to one of them is refused. Unset: only the token's message imprint and "
        "nonce are checked.",
    )
    tsa_timeout: float = Field(
        10.0, gt=0, description="Seconds to wait for the TSA before trying again later."
    )
    session_ttl: timedelta = Field(
        timedelta(hours=8),
        description="How long a staff login lasts before logging in again (seconds, or ISO 8601).",
    )
    login_max_failures: int = Field(
        5,
        gt=0,
        description="Failed logins in a row a staff account takes before each further try "
        "waits: the first wait is one second and doubles with every failure after that.",
    )
    login_lockout: timedelta = Field(
        timedelta(minutes=1),
        description="Longest wait between tries at a staff account after failed logins "
        "(seconds, or ISO 8601). A wait, never a lock: a try inside it gets the same answer "
        "as a wrong password and is not counted, so nobody can keep an account shut.",
    )
    second_factor_roles: str = Field(
        "supervisor,admin",
        description="Staff roles that must sign in with a second factor (a TOTP code, a "
        "recovery code or a passkey), comma-separated; `all` for every role, empty for none. "
        "Other roles may enrol one and must then use it. An account that must and has none "
        "is told to enrol (after its right password) instead of signing in.",
    )
    passkey_rp_id: str = Field(
        "",
        description="WebAuthn relying-party id passkeys are bound to: a host name, the "
        "portal's own or a parent domain of it. Empty means the host of PORTAL_PUBLIC_URL "
        "(or of the request when that is empty); the origin is always that URL's. Changing "
        "it makes every registered passkey unusable.",
    )
    playback_idle: timedelta = Field(
        timedelta(minutes=2),
        description="A playback with no range request for this long is closed and logged "
        "as one event (seconds, or ISO 8601).",
    )
    time_zone: str = Field(
        "America/Ciudad_Juarez",
        description="IANA time zone in which the web pages show times (always with the UTC "
        "offset); stored times stay UTC.",
    )
    withdrawal_grace: timedelta = Field(
        timedelta(days=7),
        description="After a witness withdraws consent, how long until the items no case or "
        "hold needs are destroyed (seconds, or ISO 8601).",
    )
    change_request_ttl: timedelta = Field(
        timedelta(days=7),
        description="How long a change request that weakens a rule protecting evidence (a "
        "lowered or shortened retention policy, a downgraded offence class, a supervisor or "
        "admin grant) waits for a second supervisor's (admin's) confirmation; after that it "
        "lapses unapplied and `change.expired` is logged (when requests are next listed, "
        "confirmed or withdrawn).",
    )
    retention_interval: timedelta = Field(
        timedelta(hours=1),
        description="How often (seconds, or ISO 8601) the in-process sweepers run: "
        "destruction of due, approved "
        "items, and the end of expired unfinished uploads (their partials deleted, "
        "`upload.terminated` logged).",
    )
    metrics_token: str = Field(
        "",
        description="Bearer token that /metrics (Prometheus format) asks for; empty turns "
        "/metrics off (404), so counts are never public by accident. With several worker "
        "processes also set PROMETHEUS_MULTIPROC_DIR to an empty folder.",
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        description="`json` writes one JSON object per log line with a request id (never an "
        "address or token), for log collectors.",
    )
    media_timeout: timedelta = Field(
        timedelta(seconds=120),
        gt=timedelta(0),
        description="Wall-clock time the media parser (metadata and poster, in a child "
        "process) may take for one file (seconds, or ISO 8601); a file that overruns is "
        "marked unreadable.",
    )
    media_memory_limit: int = Field(
        1024**3,
        gt=0,
        description="Address space of the media parser's child process in bytes (RLIMIT_AS).",
    )
    media_cpu_limit: int = Field(
        60, gt=0, description="CPU seconds the media parser's child process may use (RLIMIT_CPU)."
    )
    media_output_limit: int = Field(
        64 * 1024**2,
        gt=0,
        description="Largest file the media parser's child process may write, in bytes "
        "(RLIMIT_FSIZE; its poster).",
    )
    media_max_pixels: int = Field(
        50_000_000,
        gt=0,
        description="Largest picture (width x height) the media parser decodes; checked on "
        "the headers, before decoding. A larger file is marked unreadable.",
    )
    media_max_streams: int = Field(
        32, gt=0, description="Most streams a file may declare before the parser decodes it."
    )
    media_max_duration: timedelta = Field(
        timedelta(hours=24),
        gt=timedelta(0),
        description="Longest duration a file may declare before the parser decodes it "
        "(seconds, or ISO 8601).",
    )
    media_max_attempts: int = Field(
        3,
        gt=0,
        description="Runs of the media parser begun for one file that never finished (the "
        "server stopped mid-run) before it is marked unreadable instead of tried again.",
    )
    media_concurrency: int = Field(
        2,
        gt=0,
        description="Received files whose metadata and poster one app instance derives at once "
        "after answering the witness; the others wait their turn without holding a worker "
        "thread, so the uploads finishing meanwhile are not queued behind them.",
    )
    jobs_in_app: bool = Field(
        True,
        description="The web process runs derivation jobs itself (metadata, posters, playback "
        "proxies): right after a receipt, and on SQLite by polling the job table. Turn off when "
        "`portal worker` runs them on other machines.",
    )
    job_max_attempts: int = Field(
        3,
        gt=0,
        description="Runs a job may begin (failed, or cut short by a killed worker) before it "
        "is recorded as failed for good.",
    )
    job_lease: timedelta = Field(
        timedelta(seconds=60),
        gt=timedelta(0),
        description="How long a worker holds a job without renewing (it renews about every "
        "second while it runs); a killed worker's job is taken over after this (seconds, or "
        "ISO 8601).",
    )
    job_backoff: timedelta = Field(
        timedelta(seconds=30),
        ge=timedelta(0),
        description="Wait before a failed job runs again, doubled after each further failure "
        "(seconds, or ISO 8601).",
    )
    job_poll_interval: timedelta = Field(
        timedelta(seconds=2),
        gt=timedelta(0),
        description="How often workers look for due jobs in the table (on PostgreSQL only "
        "for jobs whose delivery was lost: procrastinate tells workers of the rest at once).",
    )
    proxy_timeout: timedelta = Field(
        timedelta(hours=1),
        gt=timedelta(0),
        description="Wall-clock time the transcoder may take for one playback proxy (seconds, "
        "or ISO 8601); it runs in a child process with the media limits otherwise.",
    )
    proxy_cpu_limit: int = Field(
        3600, gt=0, description="CPU seconds the transcoder's child process may use (RLIMIT_CPU)."
    )
    proxy_output_limit: int = Field(
        4 * 1024**3,
        gt=0,
        description="Largest playback proxy the transcoder may write, in bytes (RLIMIT_FSIZE).",
    )
    access_log: bool = Field(
        False,
        description="Write an HTTP access log. Off by default: it would record client IPs.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        [],
        description="Proxies (addresses or networks, comma-separated) whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed; empty (the default) trusts none. Set it only to "
        "a reverse proxy that sets those headers itself; never to 127.0.0.1 when a tunnel, "
        "onion service or TLS terminator that does not set them connects from loopback. "
        "Replaces uvicorn's FORWARDED_ALLOW_IPS, which `portal serve` turns off.",
    )
    rate_limit_window: timedelta = Field(
        timedelta(minutes=10),
        description="Length of one rate-limit window (whole seconds, or ISO 8601).",
    )
    rate_limit_submissions: int = Field(
        30,
        ge=0,
        description="Submissions one client may open per window (API and web form); "
        "0 turns the limit off.",
    )
    rate_limit_uploads: int = Field(
        200,
        ge=0,
        description="tus uploads one client may create per window; 0 turns the limit off.",
    )
    rate_limit_request_lookups: int = Field(
        120,
        ge=0,
        description="Evidence-request pages and codes one client may look up per window "
        "(guessing codes costs this); 0 turns the limit off.",
    )
    rate_limit_request_answers: int = Field(
        1000,
        ge=0,
        description="Submissions one evidence request may receive per window from everyone "
        "together (a poster's code spread to a flood); 0 turns the limit off.",
    )
    rate_limit_logins: int = Field(
        30,
        ge=0,
        description="Staff login tries one client may make per window, right or wrong; "
        "0 turns the limit off.",
    )
    max_body_size: int = Field(
        64 * 1024,
        gt=0,
        description="Largest request body in bytes for every route but tus PATCH (JSON and "
        "forms), counted while it arrives and refused with 413 before it is parsed.",
    )
    min_free_space: int = Field(
        1024**3,
        ge=0,
        description="Free bytes local storage keeps: an upload that would leave less is "
        "refused with 507 before the disk fills; 0 turns the floor off.",
    )
    max_unfinished_per_client: int = Field(
        50 * 1024**3,
        ge=0,
        description="Most bytes of unfinished uploads (by declared length) one client may "
        "hold at once; 0 turns the cap off.",
    )
    api_docs: bool = Field(
        False,
        description="Serve the interactive API documentation at /docs and /redoc. Off by "
        "default: those pages load scripts the portal's content policy does not allow; the "
        "schema itself is always at /openapi.json.",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _seconds(cls, v: object, info: ValidationInfo) -> object:
        # Environment values arrive as text, which pydantic reads as ISO 8601 only; a bare
        # number means seconds for every duration.
        duration = cls.model_fields[info.field_name or ""].annotation is timedelta
        if duration and isinstance(v, str) and v.strip().replace(".", "", 1).isdigit():
            return float(v)
        return v

    @field_validator("second_factor_roles")
    @classmethod
    def _known_roles(cls, value: str) -> str:
        roles = [r.strip() for r in value.split(",") if r.strip()]
        if roles == ["all"]:
            return ",".join(STAFF_ROLES)
        unknown = set(roles) - set(STAFF_ROLES)
        if unknown:
            raise ValueError(
                f"unknown roles {sorted(unknown)}; use {', '.join(STAFF_ROLES)} or all"
            )
        return ",".join(roles)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("trusted_proxies", "notify_webhook_allowed", mode="before")
    @classmethod
    def _split_proxies(cls, v: object) -> object:
        return [p.strip() for p in v.split(",") if p.strip()] if isinstance(v, str) else v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, v: list[str]) -> list[str]:
        # Checked and normalised here: the proxy-header middleware would quietly take a typo
        # (or a network with host bits set) for a host name and never match it.
        out = []
        for entry in v:
            try:
                ip = ipaddress.ip_network(entry, strict=False) if "/" in entry else None
                out.append(str(ip) if ip else str(ipaddress.ip_address(entry)))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return out

    @field_validator("rate_limit_window")
    @classmethod
    def _whole_seconds(cls, v: timedelta) -> timedelta:
        seconds = v.total_seconds()
        if seconds < 1 or seconds != int(seconds):
            raise ValueError("the rate-limit window must be a whole number of seconds, at least 1")
        return v

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'portal.db'}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or f"file://{(self.data_dir / 'storage').resolve()}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def resolved_log_key_file(self) -> Path:
        return self.log_key_file or self.keys_dir / "log.key"

    @property
    def resolved_contact_key_file(self) -> Path:
        return self.contact_key_file or self.keys_dir / "contact.key"

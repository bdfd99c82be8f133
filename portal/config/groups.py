"""Groups of settings that belong to one feature, kept out of the main list so it stays
readable. `Settings` (portal.config) inherits them; the environment names are the same
(PORTAL_ prefix), and docs/settings.md lists them with the rest."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

# The staff roles (auth/models.py ROLES, which sits above this module; a test keeps them equal).
STAFF_ROLES = ("investigator", "supervisor", "auditor", "admin")


class AuditSettings(BaseSettings):
    """What the auditors' access reports flag (portal.custody.audit.access)."""

    audit_bulk_downloads: int = Field(
        20,
        ge=1,
        description="Audit reports flag a staff member's downloads (each original downloaded "
        "or exported counts one) when more than this many fall within `PORTAL_AUDIT_BULK_WINDOW`.",
    )
    audit_bulk_window: timedelta = Field(
        timedelta(hours=1),
        description="The window over which audit reports count downloads for "
        "`PORTAL_AUDIT_BULK_DOWNLOADS` (seconds, or ISO 8601).",
    )
    audit_working_hours: str = Field(
        "08:00-19:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="Working hours (`HH:MM-HH:MM`, in `PORTAL_TIME_ZONE`); audit reports flag "
        "access outside them, or on a day not in `PORTAL_AUDIT_WORKING_DAYS`.",
    )
    audit_working_days: str = Field(
        "1,2,3,4,5",
        pattern=r"^[1-7](,[1-7])*$",
        description="Working days as ISO weekday numbers (1 is Monday), comma-separated.",
    )


class NotifySettings(BaseSettings):
    """New arrivals through evidence requests (portal.requests.notify; docs/requests.md)."""

    notify_webhook_allowed: Annotated[list[str], NoDecode] = Field(
        [],
        description="URL prefixes (comma-separated) a request's `notify_url` must fall under: "
        "same scheme, host and port, path under the prefix's. Empty allows no webhook.",
    )
    notify_webhook_secret: str = Field(
        "", description="Webhook signing secret, `whsec_<base64>` (Standard Webhooks)."
    )
    notify_timeout: timedelta = Field(
        timedelta(seconds=10), gt=timedelta(0), description="Limit on one delivery (seconds)."
    )
    smtp_host: str = Field("", description="SMTP server for notification email; empty: none.")
    smtp_port: int = Field(587, gt=0, lt=65536, description="Port of the SMTP server.")
    smtp_from: str = Field("portal@localhost", description="From address of notifications.")
    smtp_tls: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="SMTP protection: `starttls`, `tls` (implicit, 465) or `none`."
    )
    smtp_username: str = Field("", description="SMTP login; empty sends without one.")
    smtp_password: str = Field("", description="SMTP password for SMTP_USERNAME.")


class RedactionSettings(BaseSettings):
    """Redacted copies' C2PA manifests (portal.redactions.c2pa; docs/redaction.md)."""

    c2pa_cert_chain: Path | None = Field(
        None,
        description="PEM certificate chain (signer first, then its CA) with which redacted "
        "copies carry their provenance as a C2PA manifest (ES256, with c2pa_private_key). "
        "Unset: no C2PA manifest; the provenance is in the custody log either way.",
    )
    c2pa_private_key: Path | None = Field(
        None,
        description="PEM private key (P-256) of the first certificate in c2pa_cert_chain.",
    )


class OidcSettings(BaseSettings):
    """Single sign-on through an OpenID provider (portal.auth.oidc; docs/oidc.md)."""

    oidc_issuer: str = Field(
        "",
        description="Issuer URL of an OpenID provider staff may "
        "sign in with (docs/oidc.md); empty turns single sign-on off.",
    )
    oidc_name: str = Field("OpenID", description="The provider's name on the sign-in button.")
    oidc_client_id: str = Field("", description="The portal's client id at the provider.")
    oidc_client_secret: str = Field("", description="The portal's client secret there.")
    oidc_role_claim: str = Field("roles", description="ID token claim holding the roles.")
    oidc_roles: str = Field(
        "",
        description="Claim value to portal role, `value=role` "
        "comma-separated; only mapped values get accounts, and several roles refuse.",
    )
    oidc_mfa_amr: str = Field(
        "",
        description="`amr` values (comma-separated) that prove the "
        "provider asked for a second factor; empty: roles that need one cannot use SSO.",
    )

    @field_validator("oidc_roles")
    @classmethod
    def _role_map(cls, value: str) -> str:
        pairs = [p.rpartition("=") for p in value.split(",") if p.strip()]
        if any(not k.strip() or r.strip() not in STAFF_ROLES for k, _, r in pairs):
            raise ValueError(f"write value=role pairs; roles are {', '.join(STAFF_ROLES)}")
        return ",".join(f"{k.strip()}={r.strip()}" for k, _, r in pairs)

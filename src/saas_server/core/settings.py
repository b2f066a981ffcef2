"""Process settings, read from the environment (prefix ``SAAS_``) and an optional ``.env`` file."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from saas_server.core.errors import ConfigurationError

MIN_SECRET_KEY_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SAAS_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("./.saas-data")
    # Unset: an embedded PostgreSQL is started under ``data_dir/postgres``.
    database_url: str | None = None
    database_pool_size: int = 10
    secret_key: SecretStr | None = None
    base_domain: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    redis_url: str | None = None
    cors_origins: list[str] = Field(default_factory=list)

    # "console" prints mails, sign-in links and tokens included, to the server's output:
    # production refuses to start with it (check_production_settings).
    mail_backend: Literal["console", "smtp"] = "console"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: bool = False
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "Odoo SaaS <no-reply@localhost>"

    access_token_ttl_seconds: int = 15 * 60
    # How long an API process may answer from memory who is calling (auth/principal_cache.py)
    # before reading the user and session again; changes reach it at once anyway, by
    # PostgreSQL NOTIFY. 0 turns the cache off.
    auth_cache_seconds: float = 30.0
    refresh_token_ttl_days: int = 30
    # A rotated refresh token presented again within this many seconds of its rotation (two
    # requests of one browser refreshing at once, on different API processes) is answered
    # with the pair it was rotated to instead of ending the session as stolen
    # (docs/decisions/0034-refresh-reuse-grace.md). 0 turns the grace off.
    refresh_reuse_grace_seconds: float = Field(default=10.0, ge=0, le=300)
    email_verification_ttl_hours: int = 48
    password_reset_ttl_minutes: int = 60
    require_email_verification: bool = True
    login_lockout_threshold: int = 5
    login_lockout_window_seconds: int = 15 * 60
    login_lockout_seconds: int = 15 * 60
    # The lockout rule (docs/decisions/0005-login-lockout.md): the threshold above counts the
    # failures of one email from one source address; this higher ceiling counts them from
    # every source together and locks the account, except for the sources its owner proved
    # within ``login_trusted_source_days`` (a successful login, or the mailed unlock link).
    login_lockout_account_threshold: int = Field(default=50, ge=1)
    login_trusted_source_days: int = Field(default=30, ge=0)

    # How many tenants a user may own unless their own limit says otherwise (admins: no limit).
    default_tenant_limit: int = 3
    # A deleted tenant's subdomain stays reserved this long, then may be taken again.
    subdomain_grace_days: int = 30
    # How long an Idempotency-Key's first answer is kept (Stripe keeps keys 24 hours).
    idempotency_key_retention_hours: int = Field(default=24, ge=1)

    # Odoo: the version of new tenants, and the built-in emulator (auto: started by
    # `saas serve` and registered as a host when no other host is registered; on; off).
    default_odoo_version: Literal["17.0", "18.0", "19.0"] = "18.0"
    odoo_emulator: Literal["auto", "on", "off"] = "auto"
    odoo_emulator_port: int = 8069
    odoo_emulator_capacity: int = 500
    # Periodic host health checks.
    host_check_interval_seconds: int = 60
    # Standby databases (hosts/standby.py, docs/decisions/0003): per host, this many spare
    # databases cloned from the template with an admin password already set (the ~0.5 s
    # pbkdf2 hash paid ahead of time); provisioning renames one for the new tenant and falls
    # back to cloning when none is left. 0 turns the pool off (and drops the spares). The
    # pool is topped up every ``standby_check_interval_seconds``, one database at a time,
    # and only while no provisioning job is queued or running.
    standby_databases_per_host: int = Field(default=2, ge=0, le=1000)
    standby_check_interval_seconds: float = Field(default=10.0, gt=0)

    # Job recovery: a worker whose heartbeat is older than this is dead; its jobs are retried.
    worker_heartbeat_seconds: float = 10.0
    stalled_worker_seconds: float = 30.0

    # Test-only fault injection (see core/faults.py); ignored unless env == "test".
    faults: dict[str, str] = Field(default_factory=dict)

    # Rate limits (conventions.md): per user by plan, per IP when anonymous, and tighter
    # budgets for login, password reset and registration. "N/period" strings.
    rate_limit_enabled: bool = True
    rate_limit_standard: str = "1000/hour"
    rate_limit_premium: str = "5000/hour"
    rate_limit_enterprise: str = "10000/hour"
    rate_limit_admin: str = "50000/hour"
    rate_limit_anonymous: str = "100/hour"
    rate_limit_login: str = "60/minute"
    rate_limit_password_reset_email: str = "5/hour"
    rate_limit_password_reset_ip: str = "30/hour"
    rate_limit_register: str = "30/hour"
    # Signed webhooks into the platform (payment providers, integrations, tenants' Odoo) come
    # from a few addresses in bursts, with no user: the anonymous budget would turn a busy
    # provider's deliveries into 429s. They count per IP against this budget instead, on top of
    # each intake's own checks (signature, a provider's own limit).
    rate_limit_webhook_intake: str = "6000/minute"
    rate_limit_intake_paths: tuple[str, ...] = (
        "/api/v1/billing/webhooks/",
        "/api/v1/integrations/webhooks/",
        "/api/v1/odoo/webhook",
    )
    rate_limit_key_prefix: str = "saas"
    rate_limit_tier_cache_seconds: float = 60.0

    # Backups (backups/): where archives are kept, and for how long.
    backup_storage: Literal["local", "s3"] = "local"
    # Local folder for archives; unset: ``data_dir/backups``.
    backup_local_dir: Path | None = None
    backup_s3_endpoint_url: str | None = None
    backup_s3_bucket: str | None = None
    backup_s3_prefix: str = ""
    backup_s3_region: str = "us-east-1"
    backup_s3_access_key_id: str | None = None
    backup_s3_secret_access_key: SecretStr | None = None
    # Server-side encryption asked of the object store: "" (none), "AES256" or "aws:kms".
    backup_s3_sse: Literal["", "AES256", "aws:kms"] = ""
    backup_s3_kms_key_id: str | None = None
    # Download links: how long a signed link stays valid.
    backup_download_link_seconds: int = 15 * 60
    # How long the backup taken before a tenant's deletion is kept.
    backup_pre_delete_retention_days: int = 30
    # How long the backup taken before a restore is kept.
    backup_pre_restore_retention_days: int = 14
    # Bounds on every archive the platform reads (imported, uploaded, from storage), checked
    # before anything in it is trusted (backups/archive.py): the archive's size, its entries,
    # their declared total once expanded, the expansion ratio of any member over 1 MiB, and
    # manifest.json, the one member read into memory.
    backup_archive_max_bytes: int = Field(default=50 * 1024**3, gt=0)
    backup_archive_max_entries: int = Field(default=1_000_000, gt=0)
    backup_archive_max_expanded_bytes: int = Field(default=200 * 1024**3, gt=0)
    backup_archive_max_ratio: int = Field(default=200, gt=0)
    backup_manifest_max_bytes: int = Field(default=1024 * 1024, gt=0)
    # Per-tier changes to the backup policy of tenants/tiers.py, e.g.
    # {"starter": {"daily": 10, "manual_quota": 3}}.
    backup_policies: dict[str, dict[str, int]] = Field(default_factory=dict)
    # Scheduled backups: how often the scheduler looks for instances due a daily backup.
    backup_schedule_interval_seconds: int = 300

    # A bearer token that may read /metrics and /health/detailed (a Prometheus scraper, a
    # probe); platform admins may always. Unset: platform admins only.
    monitoring_token: SecretStr | None = None

    # Audit chain checkpoints (audit/checkpoints.py): a file apart from the database, signed
    # with a key derived from the secret key; unset: ``data_dir/audit-checkpoints.jsonl``.
    audit_checkpoint_file: Path | None = None
    audit_checkpoint_interval_seconds: float = Field(default=300.0, gt=0)

    # Payment provider (billing/providers/, stripe engineer's block): "manual" (bank transfer,
    # an admin marks invoices paid) or "stripe". Stripe needs its secret key (never logged; the
    # repr hides it), the webhook signing secret (whsec_...) for its events into the platform,
    # and its API address (tests point it at a localstripe on loopback).
    billing_provider: Literal["manual", "stripe"] = "manual"
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"

    # -- webhooks (outbound, saas_server.webhooks) --
    # Deliver to loopback/private/link-local addresses too (tests, a private network);
    # off, such URLs are refused at creation and at every delivery (core/outbound.py).
    webhooks_allow_private: bool = False
    # SEO audits fetch pages users name: through the same SSRF guard; private addresses only
    # when allowed (tests, an agency auditing its intranet).
    marketing_allow_private: bool = False
    # An OpenAI-compatible endpoint for generative text (marketing/generative.py), optional:
    # every analysis works offline without one. The base URL ends before /chat/completions
    # (e.g. http://127.0.0.1:8080/v1 for llama.cpp's server); the key is sent as a bearer token
    # and never logged. The operator sets it, so private addresses are allowed.
    ai_openai_base_url: str | None = None
    ai_openai_model: str | None = None
    ai_openai_api_key: SecretStr | None = None
    ai_openai_timeout_seconds: float = Field(default=60.0, gt=0)
    ai_openai_max_tokens: int = Field(default=512, gt=0, le=32768)
    # How often due social posts are looked for (and published).
    social_publish_sweep_seconds: float = Field(default=30.0, gt=0)
    webhooks_timeout_seconds: float = Field(default=15.0, gt=0)
    # How much of a receiver's answer each attempt keeps.
    webhooks_response_excerpt_bytes: int = Field(default=2048, ge=0)
    # An endpoint failing this long is disabled and its owner mailed.
    webhooks_disable_after_days: float = Field(default=5.0, gt=0)
    # How often due retries are looked for (their times follow the retry schedule).
    webhooks_retry_sweep_seconds: float = Field(default=1.0, gt=0)
    # After a rotation the previous secret keeps signing alongside the new one this long.
    webhooks_secret_overlap_hours: float = Field(default=24.0, ge=0)
    # Security monitoring (security/): the threat detection job and its thresholds, counted
    # over the detection window; the IP block list's per-process copy.
    security_detect_interval_seconds: float = Field(default=60.0, gt=0)
    security_detection_window_seconds: int = Field(default=900, gt=0)
    # Failed logins on one account (any source) that make a brute-force threat.
    security_brute_force_threshold: int = Field(default=10, ge=1)
    # From one IP: failed logins over at least this many accounts, and this many in all.
    security_stuffing_accounts_threshold: int = Field(default=5, ge=2)
    security_stuffing_attempts_threshold: int = Field(default=10, ge=1)
    # 404s on distinct tenant ids from one account that make an enumeration threat.
    security_enumeration_threshold: int = Field(default=20, ge=1)
    # How old the block list copy may be when the change listener is down (or not started).
    security_blocklist_cache_seconds: float = Field(default=5.0, ge=0)
    # A blocked IP's refused requests are counted in memory and written as one row per IP
    # this often (a flood of refusals must not become a flood of writes).
    security_refusal_flush_seconds: float = Field(default=5.0, gt=0)
    # Inbound integrations (integrations/): intake, retries of failed processing (seed 002:
    # 60 s first, doubling, at most 300 s apart, at most 3 retries), provider health checks.
    integrations_signature_tolerance_seconds: int = Field(default=300, gt=0)
    integrations_retry_first_seconds: float = Field(default=60.0, gt=0)
    integrations_retry_max_seconds: float = Field(default=300.0, gt=0)
    integrations_max_retries: int = Field(default=3, ge=0)
    # How often a worker looks for retries that fell due.
    integrations_retry_sweep_seconds: float = Field(default=15.0, gt=0)
    # A provider's intake budget when it names none ("N/second|minute|hour").
    integrations_default_rate_limit: str = "600/minute"
    integrations_health_interval_seconds: float = Field(default=60.0, gt=0)
    integrations_health_timeout_seconds: float = Field(default=5.0, gt=0)
    # Slower answers than this make a provider "degraded".
    integrations_health_degraded_ms: int = Field(default=1000, gt=0)
    # How often instances missing their Odoo webhook secret get one written.
    integrations_odoo_secret_sweep_seconds: float = Field(default=300.0, gt=0)
    # The client portal (seed 004): its sync of each tenant's Odoo, its rate limits (per
    # portal user or member, and per address on the public blog) and what it takes as files.
    portal_sync_interval_seconds: float = Field(default=300.0, gt=0)
    portal_rate_limit_user: str = "100/minute"
    portal_rate_limit_anonymous: str = "20/minute"
    portal_upload_max_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    portal_upload_types: list[str] = Field(
        default_factory=lambda: [
            "application/pdf",
            "image/png",
            "image/jpeg",
            "image/gif",
            "image/webp",
            "text/plain",
            "text/csv",
            "application/zip",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ]
    )
    # -- operations (admin console, maintenance mode, tenant metrics: admin/, monitoring/) --
    # Retry-After of a 503 MAINTENANCE_MODE when the operator gave no end time.
    maintenance_retry_after_seconds: int = Field(default=300, ge=1)
    # How often every ready instance is sampled, and how long each granularity is kept.
    metrics_sample_interval_seconds: float = Field(default=300.0, gt=0)
    metrics_raw_retention_hours: int = Field(default=48, ge=1)
    metrics_hourly_retention_days: int = Field(default=90, ge=1)
    metrics_daily_retention_days: int = Field(default=730, ge=1)
    # How often each API process writes its per-tenant request counts and latency (held in
    # memory in between: no database write per request).
    metrics_request_flush_seconds: float = Field(default=60.0, gt=0)

    # -- billing (saas_server.billing) --
    # The payment provider (``billing_provider``) and Stripe's settings are above.
    # Tax rate per billing country (ISO 3166 alpha-2) in basis points: {"DE": 1900} is 19 %.
    # A country not listed pays no tax (the default: none at all).
    billing_tax_rates: dict[str, int] = Field(default_factory=dict)
    # The currency the admin stats report their headline figures in (seed 000's single
    # `total_revenue` number); amounts in other currencies are listed beside it, never converted.
    billing_reporting_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    # The seller on every invoice (and its PDF).
    billing_seller_name: str = "Odoo SaaS Platform"
    billing_seller_address: str = ""
    billing_seller_tax_id: str = ""
    # Invoice numbers: ``<prefix>-<year>-<000001>``, gapless per year.
    billing_invoice_prefix: str = "INV"
    billing_payment_terms_days: int = Field(default=14, ge=0)
    # How often the renewal and dunning job runs (billing.run_renewals).
    billing_renewal_interval_seconds: float = Field(default=3600.0, gt=0)

    max_body_bytes: int = 1024 * 1024
    log_level: str = "INFO"
    # auto: readable (rich) on a terminal, JSON lines otherwise; or json, console, text.
    log_format: Literal["auto", "json", "console", "text"] = "auto"
    # `saas serve` runs a job worker inside the API process unless this is off.
    serve_worker: bool = True
    worker_concurrency: int = 4

    @field_validator("public_url", "stripe_api_base")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def is_production(self) -> bool:
        return self.env == "production"


@lru_cache
def get_settings() -> Settings:
    return Settings()


def check_production_settings(settings: Settings) -> None:
    """Refuse, in production, settings that leak secrets or lose mail; and, everywhere, a
    payment provider that could not charge anyone."""
    check_billing_provider_settings(settings)
    if settings.is_production and settings.mail_backend == "console":
        raise ConfigurationError(
            "SAAS_MAIL_BACKEND is 'console', which prints sign-in links and tokens to the "
            "log; production refuses to start with it. Set SAAS_MAIL_BACKEND=smtp and the "
            "SAAS_SMTP_* settings."
        )


def resolve_secret_key(settings: Settings) -> str:
    """Return the signing/encryption key, generating one in the data dir outside production.

    In production a missing or short key refuses to start: a generated key kept on one
    machine's disk would silently break every other API process behind the same domain.
    """
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value()
        if settings.is_production and len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigurationError(
                f"SAAS_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters "
                "in production."
            )
        return key
    if settings.is_production:
        raise ConfigurationError(
            "SAAS_SECRET_KEY is not set; production refuses to start without one "
            f"(at least {MIN_SECRET_KEY_LENGTH} characters)."
        )
    key_file = settings.data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.touch(mode=0o600)
    key_file.write_text(key)
    return key


def check_billing_provider_settings(settings: Settings) -> None:
    """``SAAS_BILLING_PROVIDER=stripe`` needs a secret key: without one every charge would fail
    at renewal time, long after the operator could have noticed."""
    if settings.billing_provider == "stripe" and (
        settings.stripe_secret_key is None or not settings.stripe_secret_key.get_secret_value()
    ):
        raise ConfigurationError(
            "SAAS_BILLING_PROVIDER is 'stripe' but SAAS_STRIPE_SECRET_KEY is not set; set it "
            "to the account's secret key (sk_live_... or sk_test_...) or use "
            "SAAS_BILLING_PROVIDER=manual."
        )

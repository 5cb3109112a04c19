"""Settings of the HTTP service: the ledger's settings (``TRUSTLEDGER_*``) plus the API's own.

The operator's automation token (``TRUSTLEDGER_API_TOKEN``) has no default: without it, the token-guarded
routes (purchase attestations, the maintenance switch, operator hides and erasures) answer 401
``token-not-configured``; a token shorter than 32 characters is refused at start.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from ledger.settings import Settings

__all__ = ["ApiSettings"]


class ApiSettings(Settings):
    """Settings of ``api``; each field ``x`` is read from ``TRUSTLEDGER_X``."""

    api_token: SecretStr | None = Field(None, description="bearer token of the operator's own automation")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="largest request body accepted, in bytes")
    max_batch: int = Field(1000, ge=1, le=10_000, description="most reviews in one batch request")
    write_rate: float = Field(200.0, gt=0, description="writes per second a client may sustain")
    write_burst: int = Field(1000, ge=1, description="writes a client may make at once before being limited")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed to call the API")
    maintenance: bool = Field(False, description="start with writes refused (reads still answered)")
    index_interval: float = Field(1.0, gt=0, description="seconds between indexer passes")
    idempotency_ttl: int = Field(24 * 3600, ge=60, description="seconds a write's response is kept for retries")
    relayer_low_balance: int = Field(10**17, ge=0, description="relayer balance (wei) under which health warns")
    max_wait: float = Field(30.0, ge=0, description="longest a client may ask a write to wait for its receipt")

    @field_validator("api_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (generate one: python -c "
                             "'import secrets; print(secrets.token_urlsafe(32))')")
        return value

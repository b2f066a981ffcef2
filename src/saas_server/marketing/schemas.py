"""Request and answer shapes of the marketing routes (seed 004's custom features)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from saas_server.core.schemas import RequestSchema, Schema

AnalysisType = Literal["sentiment", "keywords", "topics", "summary", "trend", "anomaly"]
DataType = Literal["text", "social_posts", "seo_audits", "timeseries"]


class AnalyzeRequest(RequestSchema):
    data_type: DataType
    data: Any = Field(description="A string or a list (texts, posts, audits, points)")
    analysis_type: AnalysisType
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="top (keywords), topics (topics), sentences (summary), period (trend), "
        'threshold (anomaly); provider: "openai" writes the summary with the configured '
        "OpenAI-compatible endpoint (offline, extractive, without it)",
    )


class AnalyzeRead(Schema):
    analysis_type: AnalysisType
    data_type: DataType
    method: str
    source: Literal["offline", "generative"] = "offline"
    confidence: float | None = Field(
        description="null for generated text: nothing measured it (see confidence_means)"
    )
    confidence_means: str
    items: int
    result: dict[str, Any]
    notes: list[str]


class SeoAuditCreate(RequestSchema):
    url: str = Field(min_length=1, max_length=2048)
    keywords: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20
    )
    competitors: list[Annotated[str, Field(min_length=1, max_length=2048)]] = Field(
        default_factory=list, max_length=5
    )
    tenant_id: str | None = Field(
        default=None,
        max_length=64,
        description="The tenant (agency) auditing; optional when you have one",
    )
    client_id: int | None = Field(
        default=None, ge=1, description="The agency's client (its Odoo partner id)"
    )


class SeoAuditRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    client_id: int | None
    url: str
    keywords: list[str]
    competitors: list[str]
    status: str
    score: int | None
    findings: list[dict[str, Any]]
    recommendations: list[dict[str, Any]]
    report: dict[str, Any] | None
    error: str | None
    requested_by: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None


class MediaItem(RequestSchema):
    """An attachment: a file of the files API (`file_id`, its type read from its content at
    upload), or a URL with its type (`url` + `mime_type`)."""

    file_id: str | None = Field(default=None, max_length=64)
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    mime_type: str | None = Field(default=None, min_length=3, max_length=100)

    @model_validator(mode="after")
    def _one_form(self) -> MediaItem:
        if self.file_id is not None:
            if self.url is not None or self.mime_type is not None:
                raise ValueError("give either file_id, or url and mime_type")
        elif self.url is None or self.mime_type is None:
            raise ValueError("give file_id, or url and mime_type")
        return self


class ScheduledPostCreate(RequestSchema):
    platform: str = Field(min_length=1, max_length=32)
    content: str = Field(default="", max_length=70000)
    media: list[MediaItem] = Field(default_factory=list, max_length=20)
    scheduled_time: datetime
    target_audience: dict[str, Any] = Field(default_factory=dict)
    provider: str = Field(default="webhook", max_length=32)
    tenant_id: str | None = Field(default=None, max_length=64)
    client_id: int | None = Field(default=None, ge=1)


class ScheduledPostUpdate(RequestSchema):
    scheduled_time: datetime | None = None
    content: str | None = Field(default=None, max_length=70000)


class ScheduledPostRead(Schema):
    id: uuid.UUID
    tenant_id: uuid.UUID
    client_id: int | None
    platform: str
    content: str
    media: list[dict[str, Any]]
    target_audience: dict[str, Any]
    scheduled_time: datetime
    provider: str
    status: str
    attempts: int
    published_at: datetime | None
    external_id: str | None
    last_error: str | None
    engagement: dict[str, Any]
    created_at: datetime


class SocialProviderUpdate(RequestSchema):
    url: str = Field(min_length=1, max_length=2048)
    tenant_id: str | None = Field(default=None, max_length=64)


class SocialProviderRead(Schema):
    id: uuid.UUID
    name: str
    tenant_id: uuid.UUID
    url: str | None
    created_at: datetime
    updated_at: datetime
    engagement_url: str = Field(
        description="Where the provider reports engagement figures, signed with the same secret"
    )
    secret: str | None = Field(
        default=None, description="The signing secret: shown once, when the provider is created"
    )


class EngagementReport(RequestSchema):
    post_id: str = Field(max_length=64)
    impressions: int | None = Field(default=None, ge=0)
    likes: int | None = Field(default=None, ge=0)
    comments: int | None = Field(default=None, ge=0)
    shares: int | None = Field(default=None, ge=0)
    clicks: int | None = Field(default=None, ge=0)

"""Marketing intelligence routes (seed 004's custom features, canonical paths of conventions.md):
SEO audits and their analytics, and the offline analyses."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from saas_server.auth.dependencies import CurrentPrincipal, get_principal, oauth2_scheme
from saas_server.auth.tenant_login import is_portal_token
from saas_server.core.deps import ClientDep, RuntimeDep, SessionDep
from saas_server.core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from saas_server.core.ids import parse_id
from saas_server.core.openapi import errors
from saas_server.core.pagination import ListParamsDep, ListSpec, Page, apply_filters, paginate
from saas_server.core.routing import PrefixedRouter
from saas_server.marketing import analysis, generative, recommendations, service, social
from saas_server.marketing.models import (
    AuditStatus,
    PostStatus,
    ScheduledPost,
    SeoAudit,
    SocialProvider,
)
from saas_server.marketing.schemas import (
    AnalyzeRead,
    AnalyzeRequest,
    EngagementReport,
    ScheduledPostCreate,
    ScheduledPostRead,
    ScheduledPostUpdate,
    SeoAuditCreate,
    SeoAuditRead,
    SocialProviderRead,
    SocialProviderUpdate,
)
from saas_server.marketing.service import ClientViewer, Viewer
from saas_server.portal.access import get_caller
from saas_server.tenants.models import Membership
from saas_server.tenants.service import TenantNotFound, TenantService
from saas_server.users import service as users
from saas_server.users.models import User


class ProviderNotFound(NotFound):
    code = "SOCIAL_PROVIDER_NOT_FOUND"
    message = "Social provider not found"


ai_router = PrefixedRouter(prefix="/api/v1/ai", tags=["ai"])
seo_router = PrefixedRouter(prefix="/api/v1/analytics/seo", tags=["seo"])

AUDIT_LIST = ListSpec(
    ordering_fields={
        "created_at": SeoAudit.created_at,
        "score": SeoAudit.score,
        "url": SeoAudit.url,
        "status": SeoAudit.status,
    },
    default_ordering="-created_at",
    search_fields=(SeoAudit.url,),
    tiebreaker=SeoAudit.id,
)


@ai_router.post("/analyze", response_model=AnalyzeRead, responses=errors(502))
async def analyze(
    body: AnalyzeRequest, principal: CurrentPrincipal, runtime: RuntimeDep
) -> AnalyzeRead:
    """Analyse the data given, offline: sentiment, keywords, topics, summary, trend or anomalies.
    The answer names the method used and what its confidence means. With
    `options.provider: "openai"`, a summary is written by the configured OpenAI-compatible
    endpoint instead (the answer names it)."""
    provider = body.options.get("provider", "offline")
    if provider not in ("offline", *generative.PROVIDER_NAMES):
        reason = f"one of offline, {', '.join(generative.PROVIDER_NAMES)}"
        raise ValidationFailed(reason, details={"options.provider": [reason]})
    if provider != "offline":
        return await _generative_analysis(body, runtime)
    # The libraries are CPU work: off the event loop, so other requests are not held up.
    result = await asyncio.to_thread(
        analysis.analyze, body.analysis_type, body.data_type, body.data, body.options
    )
    return AnalyzeRead(
        analysis_type=body.analysis_type,
        data_type=body.data_type,
        method=result.method,
        confidence=result.confidence,
        confidence_means=result.confidence_means,
        items=result.items,
        result=result.result,
        notes=result.notes,
    )


async def _generative_analysis(body: AnalyzeRequest, runtime: RuntimeDep) -> AnalyzeRead:
    if body.analysis_type != "summary":
        reason = "the generative provider writes summaries; the other analyses are offline"
        raise ValidationFailed(reason, details={"options.provider": [reason]})
    texts = analysis.texts_of(body.data_type, body.data)
    generator = generative.configured(runtime.settings)
    sentences = analysis.int_option(body.options, "sentences", 3, 1, 20)
    written = await generative.summary(generator, texts, sentences=sentences)
    return AnalyzeRead(
        analysis_type=body.analysis_type,
        data_type=body.data_type,
        method=f"abstractive summary by {written.model} at {written.endpoint} "
        "(OpenAI-compatible chat completions)",
        source="generative",
        confidence=None,
        confidence_means="not measured: generated text; check it against the texts",
        items=len(texts),
        result={
            "summary": written.text,
            "provider": written.provider,
            "model": written.model,
            "endpoint": written.endpoint,
            "usage": written.usage,
            "finish_reason": written.finish_reason,
        },
        notes=[f"The texts were sent to {written.endpoint}; nothing else was."],
    )


async def _tenant_for(
    session: SessionDep, runtime: RuntimeDep, client: ClientDep, actor: User, raw: str | None
) -> uuid.UUID:
    """The tenant named, which the caller must belong to; without one, the caller's only
    tenant (an agency's staff usually belong to one)."""
    if raw is not None:
        access = await TenantService(session, runtime, client).access(
            actor, parse_id(raw, TenantNotFound)
        )
        return access.tenant.id
    mine = (
        (
            await session.execute(
                select(Membership.tenant_id).where(Membership.user_id == actor.id).limit(2)
            )
        )
        .scalars()
        .all()
    )
    if len(mine) != 1:
        reason = "Say which tenant: you belong to several" if mine else "You belong to no tenant"
        raise ValidationFailed(reason, details={"tenant_id": [reason]})
    return mine[0]


async def viewer(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    tenant_id: str | None = None,
) -> Viewer:
    """Who reads a report: a platform user (a member of the tenants whose rows they read), or
    a portal caller (a client's token reads that client's rows of its tenant only; the
    tenant's Odoo employees every client's). Portal tokens read, never write."""
    if token and is_portal_token(token):
        caller = await get_caller(request, session, runtime, token, tenant_id)
        return ClientViewer(caller.tenant_id, caller.commercial_id)
    principal = await get_principal(request)
    assert principal is not None  # required: it raises instead
    return await users.get_user(session, principal.user.id)


ViewerDep = Annotated[Viewer, Depends(viewer)]


@dataclass(frozen=True)
class Audience:
    """Whose figures a report covers: the caller, a tenant they belong to (all of theirs when
    none is named; a portal caller's own) and one of its clients (all when none; a portal
    client's own, whatever it names)."""

    actor: Viewer
    tenant_id: uuid.UUID | None
    client_id: int | None


async def audience(
    actor: ViewerDep,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    tenant_id: str | None = None,
    client_id: Annotated[int | None, Query(ge=1)] = None,
) -> Audience:
    if isinstance(actor, ClientViewer):
        if actor.client_id is not None and client_id not in (None, actor.client_id):
            raise Forbidden("A client reads its own reports only")
        return Audience(actor, actor.tenant_id, actor.client_id or client_id)
    tenant = (
        await _tenant_for(session, runtime, client, actor, tenant_id)
        if tenant_id is not None
        else None
    )
    return Audience(actor, tenant, client_id)


AudienceDep = Annotated[Audience, Depends(audience)]


@seo_router.post("/audit", status_code=status.HTTP_202_ACCEPTED, response_model=SeoAuditRead)
async def request_audit(
    body: SeoAuditCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
) -> JSONResponse:
    """Audit a page (and compare it with competitors): 202 and a job; follow it at
    `GET /api/v1/analytics/seo/audit/{id}`."""
    actor = await users.get_user(session, principal.user.id)
    tenant_id = await _tenant_for(session, runtime, client, actor, body.tenant_id)
    row = await service.request_audit(
        session,
        tenant_id=tenant_id,
        client_id=body.client_id,
        url=body.url,
        keywords=body.keywords,
        competitors=body.competitors,
        actor=actor,
        client=client,
    )
    return JSONResponse(
        SeoAuditRead.model_validate(row).model_dump(mode="json"),
        status_code=status.HTTP_202_ACCEPTED,
    )


@seo_router.get("/audit", response_model=Page[SeoAuditRead])
async def list_audits(
    actor: ViewerDep,
    session: SessionDep,
    params: ListParamsDep,
    tenant_id: str | None = None,
    client_id: Annotated[int | None, Query(ge=1)] = None,
    status_filter: Annotated[AuditStatus | None, Query(alias="status")] = None,
) -> Page[SeoAuditRead]:
    stmt = service.visible_audits(actor)
    stmt = apply_filters(
        stmt,
        {
            SeoAudit.tenant_id: parse_id(tenant_id, TenantNotFound) if tenant_id else None,
            SeoAudit.client_id: client_id,
            SeoAudit.status: status_filter.value if status_filter else None,
        },
    )
    return await paginate(session, stmt, params, AUDIT_LIST, SeoAuditRead.model_validate)


@seo_router.get("/audit/{audit_id}", response_model=SeoAuditRead)
async def get_audit(audit_id: str, actor: ViewerDep, session: SessionDep) -> SeoAuditRead:
    row = await service.get_audit(session, actor, parse_id(audit_id, service.AuditNotFound))
    return SeoAuditRead.model_validate(row)


@seo_router.get("")
async def seo_analytics(
    who: AudienceDep,
    session: SessionDep,
    start_date: date | None = None,
    end_date: date | None = None,
) -> dict[str, object]:
    """Scores and findings over time, per URL, from the completed audits."""
    return await service.seo_analytics(
        session,
        who.actor,
        tenant_id=who.tenant_id,
        client_id=who.client_id,
        start=start_date,
        end=end_date,
    )


# -- social ---------------------------------------------------------------------------------------

social_router = PrefixedRouter(prefix="/api/v1/social", tags=["social"])
social_analytics_router = PrefixedRouter(prefix="/api/v1/analytics/social", tags=["social"])

POST_LIST = ListSpec(
    ordering_fields={
        "scheduled_time": ScheduledPost.scheduled_time,
        "created_at": ScheduledPost.created_at,
        "status": ScheduledPost.status,
        "platform": ScheduledPost.platform,
    },
    default_ordering="scheduled_time",
    search_fields=(ScheduledPost.content,),
    tiebreaker=ScheduledPost.id,
)


def _provider_read(
    provider: SocialProvider, runtime: RuntimeDep, secret: str | None = None
) -> SocialProviderRead:
    base = str(runtime.settings.public_url).rstrip("/")
    return SocialProviderRead(
        id=provider.id,
        name=provider.name,
        tenant_id=provider.tenant_id,
        url=provider.config.get("url"),
        created_at=provider.created_at,
        updated_at=provider.updated_at,
        engagement_url=f"{base}/api/v1/social/engagement/{provider.id}",
        secret=secret,
    )


async def _managed_tenant(
    session: SessionDep, runtime: RuntimeDep, client: ClientDep, actor: User, raw: str | None
) -> uuid.UUID:
    tenant_id = await _tenant_for(session, runtime, client, actor, raw)
    access = await TenantService(session, runtime, client).access(actor, tenant_id)
    access.require_manager()
    return tenant_id


@social_router.put("/providers/{name}", response_model=SocialProviderRead)
async def configure_provider(
    name: str,
    body: SocialProviderUpdate,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
) -> JSONResponse:
    """Configure how the tenant publishes (owners and admins). For `webhook`: the `url` due
    posts are sent to, signed; the signing secret is in this answer once, when created."""
    actor = await users.get_user(session, principal.user.id)
    tenant_id = await _managed_tenant(session, runtime, client, actor, body.tenant_id)
    provider, secret = await social.configure_provider(session, runtime, tenant_id, name, body.url)
    return JSONResponse(
        _provider_read(provider, runtime, secret).model_dump(mode="json"),
        status_code=status.HTTP_201_CREATED if secret else status.HTTP_200_OK,
    )


@social_router.get("/providers/{name}", response_model=SocialProviderRead)
async def get_provider(
    name: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
    tenant_id: str | None = None,
) -> SocialProviderRead:
    actor = await users.get_user(session, principal.user.id)
    tenant = await _tenant_for(session, runtime, client, actor, tenant_id)
    return _provider_read(await social.get_provider(session, tenant, name), runtime)


@social_router.post(
    "/schedule", status_code=status.HTTP_201_CREATED, response_model=ScheduledPostRead
)
async def schedule_post(
    body: ScheduledPostCreate,
    principal: CurrentPrincipal,
    session: SessionDep,
    runtime: RuntimeDep,
    client: ClientDep,
) -> ScheduledPostRead:
    """Schedule a post: checked against the network's rules (length, media count and types,
    a time in the future), published at its time through the tenant's provider."""
    actor = await users.get_user(session, principal.user.id)
    tenant_id = await _tenant_for(session, runtime, client, actor, body.tenant_id)
    post = await social.schedule_post(
        session,
        tenant_id=tenant_id,
        client_id=body.client_id,
        platform=body.platform,
        content=body.content,
        media=[m.model_dump() for m in body.media],
        scheduled_time=body.scheduled_time,
        target_audience=body.target_audience,
        provider=body.provider,
        actor=actor,
        runtime_url=str(runtime.settings.public_url),
    )
    return ScheduledPostRead.model_validate(post)


@social_router.get("/schedule", response_model=Page[ScheduledPostRead])
async def list_posts(
    actor: ViewerDep,
    session: SessionDep,
    params: ListParamsDep,
    tenant_id: str | None = None,
    client_id: Annotated[int | None, Query(ge=1)] = None,
    platform: str | None = None,
    status_filter: Annotated[PostStatus | None, Query(alias="status")] = None,
) -> Page[ScheduledPostRead]:
    stmt = apply_filters(
        social.visible_posts(actor),
        {
            ScheduledPost.tenant_id: parse_id(tenant_id, TenantNotFound) if tenant_id else None,
            ScheduledPost.client_id: client_id,
            ScheduledPost.platform: platform,
            ScheduledPost.status: status_filter.value if status_filter else None,
        },
    )
    return await paginate(session, stmt, params, POST_LIST, ScheduledPostRead.model_validate)


@social_router.get("/schedule/{post_id}", response_model=ScheduledPostRead)
async def get_post(post_id: str, actor: ViewerDep, session: SessionDep) -> ScheduledPostRead:
    post = await social.get_post(session, actor, parse_id(post_id, social.PostNotFound))
    return ScheduledPostRead.model_validate(post)


@social_router.patch("/schedule/{post_id}", response_model=ScheduledPostRead)
async def reschedule_post(
    post_id: str, body: ScheduledPostUpdate, principal: CurrentPrincipal, session: SessionDep
) -> ScheduledPostRead:
    """Move a scheduled post to another time, or change its text (before it goes out)."""
    actor = await users.get_user(session, principal.user.id)
    post = await social.get_post(session, actor, parse_id(post_id, social.PostNotFound))
    await social.reschedule(post, scheduled_time=body.scheduled_time, content=body.content)
    await session.flush()
    return ScheduledPostRead.model_validate(post)


@social_router.delete("/schedule/{post_id}", response_model=ScheduledPostRead)
async def cancel_post(
    post_id: str, principal: CurrentPrincipal, session: SessionDep
) -> ScheduledPostRead:
    """Cancel a scheduled post (it stays in the list, `cancelled`)."""
    actor = await users.get_user(session, principal.user.id)
    post = await social.get_post(session, actor, parse_id(post_id, social.PostNotFound))
    await social.cancel(post)
    await session.flush()
    return ScheduledPostRead.model_validate(post)


@social_router.post("/engagement/{provider_id}", response_model=ScheduledPostRead)
async def report_engagement(
    provider_id: str, request: Request, session: SessionDep, runtime: RuntimeDep
) -> ScheduledPostRead:
    """A provider reports a post's figures, signed (Standard Webhooks) with its secret."""
    provider = await session.get(SocialProvider, parse_id(provider_id, ProviderNotFound))
    if provider is None:
        raise ProviderNotFound()
    raw = await request.body()
    secret = runtime.secrets.decrypt(provider.secret_encrypted, social.provider_aad(provider))
    try:
        Webhook(secret).verify(raw, dict(request.headers))
    except WebhookVerificationError as exc:
        raise Unauthorized("The engagement report's signature does not verify") from exc
    try:
        body = EngagementReport.model_validate_json(raw)
    except PydanticValidationError as exc:
        raise ValidationFailed(
            "Invalid engagement report",
            details={
                ".".join(str(p) for p in e["loc"]) or "body": [e["msg"]] for e in exc.errors()
            },
        ) from exc
    figures = body.model_dump(exclude={"post_id"}, exclude_none=True)
    post = await social.record_engagement(
        session, parse_id(body.post_id, social.PostNotFound), provider.tenant_id, figures
    )
    return ScheduledPostRead.model_validate(post)


async def _social_analytics(
    who: AudienceDep,
    session: SessionDep,
    platform: str | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
) -> dict[str, object]:
    low, high = service.day_bounds(start_date, end_date)
    return await social.social_analytics(
        session,
        who.actor,
        tenant_id=who.tenant_id,
        client_id=who.client_id,
        platform=platform,
        start=low,
        end=high,
        start_date=start_date,
        end_date=end_date,
    )


social_router.get("/analytics", summary="Social analytics")(_social_analytics)
social_analytics_router.get("", summary="Social analytics")(_social_analytics)


@ai_router.get("/recommendations")
async def ai_recommendations(
    who: AudienceDep, session: SessionDep, runtime: RuntimeDep, category: str | None = None
) -> dict[str, object]:
    """Ranked recommendations for a client (or the whole agency) from its SEO audits, its
    social posts and its projects in the tenant's Odoo, each with its evidence and the rule
    that made it; `sources` says what each source read (an unreachable Odoo is said there)."""
    if category is not None and category not in recommendations.CATEGORIES:
        reason = f"one of {', '.join(recommendations.CATEGORIES)}"
        raise ValidationFailed(reason, details={"category": [reason]})
    found, sources = await recommendations.recommendations(
        session,
        runtime,
        who.actor,
        tenant_id=who.tenant_id,
        client_id=who.client_id,
        category=category,
    )
    return {
        "client_id": who.client_id,
        "category": category,
        "count": len(found),
        "results": found,
        "sources": sources,
    }

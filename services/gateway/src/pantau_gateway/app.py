"""The gateway's ASGI application: `create_app(settings)` with a typed lifespan state."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi_offline import FastAPIOffline
from starlette.types import Scope

from pantau_shared.bus import Publisher, RpcClient, provision
from pantau_shared.health import Readiness, health_router
from pantau_shared.infrastructure import Infrastructure
from pantau_shared.metrics import metrics_router
from pantau_shared.sealing import Sealer
from pantau_shared.settings import PlatformSettings

from . import (
    acknowledgements,
    admin,
    audit_api,
    bulk,
    console,
    contacts,
    evidence,
    exports,
    handlers,
    monitoring,
    oidc,
    pages,
    problems,
    queue,
    referrals,
    revocation,
    signin,
    statistics,
    takedowns,
    whatsapp,
)
from .audit import AuditLog
from .auth import KeyVerifier
from .deps import State
from .direct import DirectReports
from .exchange import Exchange
from .middleware import BodySizeLimit, ServerSpan
from .oidc import OidcClient
from .ratelimit import RateLimiter
from .roles import public
from .sessions import SessionStore
from .settings import GatewaySettings

SERVICE = "gateway"


def _probe(scope: Scope) -> bool:
    """Health probes every few seconds would drown the traces that matter."""
    return scope.get("path") in ("/healthz", "/readyz", "/metrics")


def _document(app: FastAPI) -> dict[str, Any]:
    app.openapi_schema = problems.document(
        get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    )
    return app.openapi_schema


def create_app(
    platform: PlatformSettings, settings: GatewaySettings, infra: Infrastructure | None = None
) -> FastAPI:
    """The API on the runtime's connections (`infra`); without them (tests serving the app
    alone) the lifespan opens and closes its own."""
    readiness = Readiness(())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, State]]:
        async with AsyncExitStack() as own:
            state_infra = infra or await _own_infrastructure(platform, settings, own)
            keys = KeyVerifier(
                state_infra.pool,
                settings.api_key_pepper.get_secret_value().encode(),
                settings.default_rate_limit,
                settings.key_cache_s,
            )
            revocations = await revocation.listen(state_infra.nc, state_infra.subjects, keys)
            own.push_async_callback(revocation.stop, state_infra.nc, revocations)
            readiness.connected(state_infra.checks())
            state = State(
                infra=state_infra,
                publisher=Publisher(state_infra.js, state_infra.subjects, source="/pantau/gateway"),
                rpc=RpcClient(state_infra.nc, state_infra.subjects, settings.rpc_retry()),
                keys=keys,
                audit=AuditLog(state_infra.pool),
                sessions=SessionStore(
                    state_infra.pool,
                    lifetime=timedelta(seconds=settings.session_lifetime_s),
                    idle=timedelta(seconds=settings.session_idle_s),
                ),
                limiter=RateLimiter(
                    state_infra.redis,
                    prefix=platform.subject_root,
                    auth_failure_limit=settings.auth_failure_limit,
                ),
                platform=platform,
                user_rate_limit=settings.user_rate_limit,
                sealer=Sealer(settings.reporter_public_key),
                oidc=_oidc(settings, platform, own),
            )
            yield {"pantau": state}

    # Spans are recorded only for an exporter (observability.span_sampler); without one the
    # gateway's own `ServerSpan` makes the request's unrecorded span for less.
    exported = platform.telemetry_exporter != "none"
    # The docs pages load Swagger UI and ReDoc from the gateway itself, not from a CDN.
    app = FastAPIOffline(
        title="Pantau API",
        version="1.0.0",
        description="Laporan dan kasus konten pemilu untuk Bawaslu dan Komdigi. "
        "Errors follow RFC 9457 (application/problem+json), titles and details in Bahasa Indonesia.",
        lifespan=lifespan,
        # Swagger UI's validator badge would fetch an image from swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
        # With an exporter FastAPI's own OpenTelemetry support makes the server span (continuing
        # a caller's traceparent); metrics and log export are left to the deployment's collector.
        telemetry={
            "tracing": exported,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "exclude": _probe,
        },
    )
    problems.install(app)
    app.openapi = lambda: app.openapi_schema or _document(app)  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
    app.include_router(health_router(readiness), dependencies=[public("probes of the orchestrator")])
    app.include_router(metrics_router(), dependencies=[public("scraped by Prometheus inside the deployment")])
    app.include_router(handlers.router)
    app.include_router(bulk.router)
    app.include_router(queue.router)
    app.include_router(exports.router)
    app.include_router(statistics.router)
    app.include_router(referrals.router)
    app.include_router(takedowns.router)
    app.include_router(monitoring.router)
    app.include_router(evidence.router)
    app.include_router(acknowledgements.router)
    app.include_router(pages.router)
    app.include_router(console.router)
    app.include_router(whatsapp.router)
    app.include_router(signin.router)
    app.include_router(admin.router)
    app.include_router(contacts.router)
    app.include_router(audit_api.router)
    app.include_router(oidc.router)
    app.state.gateway_settings = settings
    # Innermost: single submissions answered before routing, inside every other middleware.
    app.add_middleware(DirectReports, exception_handlers=app.exception_handlers)
    app.add_middleware(BodySizeLimit, limit=settings.max_body_bytes, bulk_limit=settings.max_bulk_body_bytes)
    # Request ids, the audit trail and metrics in one layer: a refused body's 413 gets an id and
    # is counted (it is never marked for the audit log, no route having seen it).
    app.add_middleware(Exchange)
    if not exported:
        app.add_middleware(ServerSpan, exclude=_probe)
    return app


def _oidc(settings: GatewaySettings, platform: PlatformSettings, stack: AsyncExitStack) -> OidcClient | None:
    if not (settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret):
        return None
    client = OidcClient(settings, platform.public_url)
    stack.push_async_callback(client.close)
    return client


async def _own_infrastructure(
    platform: PlatformSettings, settings: GatewaySettings, stack: AsyncExitStack
) -> Infrastructure:
    infra = await Infrastructure.connect(platform, settings, service=SERVICE, schema=SERVICE)
    stack.push_async_callback(infra.close)
    await infra.migrate("pantau_gateway", SERVICE)
    # Streams must exist before the first report is published, whichever service starts first.
    await provision(infra.js, infra.subjects, [])
    return infra

"""create_app(settings) builds the portal; nothing heavy happens at import time."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from portal import datadir, db
from portal.auth import mfa
from portal.clock import utcnow
from portal.config import Settings
from portal.errors import install_handlers
from portal.flows import finalise, jobs, receipt, witness_data
from portal.http_guards import BodyLimit, NoStore
from portal.keys import contact_cipher, load_or_create_signer, rate_limit_key
from portal.models import import_models
from portal.ops.logs import RequestIds
from portal.retention.service import ensure_default_policies
from portal.runtime import Runtime
from portal.storage import open_storage
from portal.uploads.tus import TUS_VERSION

log = logging.getLogger("portal")


class TusResumableHeader:
    """Every tus response but OPTIONS carries Tus-Resumable, errors included.

    Plain ASGI rather than BaseHTTPMiddleware, which would sit in the upload byte stream.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] == "OPTIONS"
            or not scope["path"].startswith("/api/v1/uploads")
        ):
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "tus-resumable" not in headers:
                    headers["Tus-Resumable"] = TUS_VERSION
            await send(message)

        await self.app(scope, receive, send_with_header)


async def _every(seconds: float, job: Callable[[], object], what: str) -> None:
    """Run a housekeeping job forever; any instance may run it, the database keeps it safe."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await run_in_threadpool(job)
        except Exception:
            log.exception("%s failed", what)


def build_runtime(settings: Settings) -> Runtime:
    """Open the database (migrating it) and storage; create the data folder on first start."""
    datadir.prepare(settings.data_dir)
    if not settings.database_url:
        datadir.private_database(settings.data_dir / "portal.db")
    import_models()
    engine = db.make_engine(settings.resolved_database_url)
    db.migrate(engine)
    sessions = db.make_sessionmaker(engine)
    with db.transaction(sessions) as session:
        ensure_default_policies(session, now=utcnow())
    # The local backend judges retention dates by the portal's clock (tests move it); the
    # closure reads `rt` when called, after it exists.
    storage = open_storage(
        settings.resolved_storage_url, clock=lambda: rt.clock(), settings=settings
    )
    rt = Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        storage=storage,
        contact_cipher=contact_cipher(settings.resolved_contact_key_file),
        log_signer=load_or_create_signer(settings.resolved_log_key_file, settings.log_origin),
        rate_limit_key=rate_limit_key(settings.resolved_contact_key_file),
    )
    with db.transaction(sessions) as session:
        mfa.seal_plain_secrets(session, sealer=rt.contact_cipher)
    return rt


def _housekeeping(rt: Runtime) -> list[asyncio.Task[None]]:
    s = rt.settings
    jobs: list[tuple[float, Callable[[], object], str]] = [
        # Sign whenever anything was logged (views, logins...), not only on uploads.
        (s.checkpoint_interval.total_seconds(), rt.sign_checkpoint, "signing"),
        (s.checkpoint_interval.total_seconds(), rt.timestamp_checkpoints, "timestamps"),
        (s.playback_idle.total_seconds() / 2, rt.close_idle_playbacks, "playbacks"),
        (s.retention_interval.total_seconds(), rt.run_retention, "retention"),
        (
            s.retention_interval.total_seconds(),
            functools.partial(finalise.sweep_uploads, rt),
            "uploads",
        ),
        # Ended windows' counters go soon after: no trail of who came when is kept.
        (s.rate_limit_window.total_seconds(), rt.purge_rate_counters, "rate limits"),
    ]
    return [asyncio.create_task(_every(seconds, job, what)) for seconds, job, what in jobs]


def _include_routers(app: FastAPI) -> None:
    from portal.auth.router import router as staff_router
    from portal.cases.router import router as cases_router
    from portal.changes.router import router as changes_router
    from portal.custody.router import router as log_router
    from portal.evidence.router import router as evidence_router
    from portal.export.router import router as export_router
    from portal.ops.router import router as ops_router
    from portal.redactions.router import router as redactions_router
    from portal.requests.router import router as requests_router
    from portal.retention.router import router as retention_router
    from portal.shares.router import router as shares_router
    from portal.submissions.router import router as submissions_router
    from portal.uploads.tus import router as tus_router
    from portal.web.router import root_router as web_root_router
    from portal.web.router import router as web_router

    app.include_router(ops_router)
    app.include_router(submissions_router)
    app.include_router(tus_router)
    app.include_router(log_router)
    app.include_router(staff_router)
    app.include_router(evidence_router)
    app.include_router(cases_router)
    app.include_router(retention_router)
    app.include_router(changes_router)
    app.include_router(export_router)
    app.include_router(requests_router)
    app.include_router(redactions_router)
    app.include_router(shares_router)
    app.include_router(web_router)
    app.include_router(web_root_router)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or (runtime.settings if runtime else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        if rt.check_log():
            # A crash between the last byte's commit and finalise, or in the receipt's
            # follow-up, leaves work to finish.
            finalise.finalise_pending(rt)
            receipt.finish_receipts(rt)
            rt.sign_checkpoint()
        rt.purge_rate_counters()
        # Incident text and device metadata left in the clear by an older version.
        witness_data.seal_plaintext(rt)
        tasks = _housekeeping(rt)
        stop = threading.Event()
        worker = jobs.start_worker_thread(rt, stop) if rt.settings.jobs_in_app else None
        yield
        stop.set()
        if worker is not None:
            # A job still running is left to its lease: another worker takes it over.
            await asyncio.to_thread(worker.join, 10)
        # Checkpoints asked for by the last receipts, signed before the database goes.
        await asyncio.to_thread(rt.checkpoints.drain, 10)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if runtime is None:
            rt.engine.dispose()

    # The interactive docs load Swagger UI from a CDN, which the pages' CSP forbids: off
    # unless asked for (the schema is always at /openapi.json).
    docs = settings.api_docs
    app = FastAPI(
        title="portal",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    install_handlers(app)
    from portal.web.routing import install_not_found_page

    install_not_found_page(app)

    app.add_middleware(TusResumableHeader)
    app.add_middleware(RequestIds, log_access=settings.access_log and settings.log_format == "json")
    app.add_middleware(NoStore)
    app.add_middleware(BodyLimit, limit=settings.max_body_size)
    # Outermost, so every route, the rate limits and the scheme-dependent parts see the
    # client a trusted proxy names. The one place proxies are trusted: `portal serve` turns
    # uvicorn's own copy of this off (PORTAL_TRUSTED_PROXIES, not FORWARDED_ALLOW_IPS).
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    _include_routers(app)
    return app

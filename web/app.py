"""The Falcon app, assembled in one place: middleware, error handlers, routes, OpenAPI."""
from __future__ import annotations

import dramatiq
import falcon

import actors  # noqa: F401  (declares every actor on the broker)
from actors.whatsapp_service import ReplayGuard
from prosaas import queue_stats
from prosaas.clients import recording_files, storage
from prosaas.runtime import Runtime, get_runtime
from web import errors
from web.auth import AuthMiddleware
from web.http_metrics import HttpMetricsMiddleware
from web.input_guard import InputGuardMiddleware, install_input_guards
from web.limits import BodyLimitMiddleware, BodyReadTimeout, body_read_timed_out
from web.rate_limit import ApiRateLimitMiddleware
from web.resources import admin_jobs, businesses, dashboard, dashboard_jobs, diagnostics, health, jobs, metrics, ops
from web.resources import broadcasts, push, receipts, reminders, whatsapp
from web.resources import queues, recordings, sessions, stats, tenants
from web.spec import DeclaredContentTypeMiddleware, api



def create_app(runtime: Runtime | None = None, broker: dramatiq.Broker | None = None) -> falcon.App:
    """The app on `runtime`'s handles; `broker` (default: the global one, which the actors are declared on)
    sends what the operators' routes resend (job retries, dead letters) and knows the slot-limited actors."""
    runtime = runtime or get_runtime()
    broker = broker or dramatiq.get_broker()
    database = runtime.database
    app = falcon.App(middleware=[
        HttpMetricsMiddleware(),
        BodyLimitMiddleware(runtime.settings.max_body_bytes, runtime.settings.body_read_timeout_seconds),
        InputGuardMiddleware(),
        AuthMiddleware(runtime),
        ApiRateLimitMiddleware(runtime),
        DeclaredContentTypeMiddleware(),
    ])
    app.req_options.strip_url_path_trailing_slash = True
    errors.install_error_handlers(app)
    install_input_guards(app)
    app.add_error_handler(BodyReadTimeout, body_read_timed_out)
    # Health, metrics, the job API, operators' and admin routes.
    app.add_route("/healthz", health.Liveness())
    app.add_route("/readyz", health.Readiness(runtime))
    app.add_route("/openapi.json", health.OpenApi())
    app.add_route("/api/jobs", jobs.JobsCollection(database))
    app.add_route("/api/jobs/{job_id}", jobs.JobItem(runtime))
    app.add_route("/api/jobs/{job_id}/{action}", jobs.JobAction(broker))
    app.add_route("/api/jobs/health", ops.JobsHealth(runtime))
    app.add_route("/api/jobs/worker/config", ops.WorkerConfig(runtime))
    app.add_route("/api/admin/dead-letters", ops.DeadLetters(runtime))
    app.add_route("/api/admin/dead-letters/{message_id}/requeue", ops.DeadLetterRequeue(broker))
    app.add_route("/api/diagnostics/ping", diagnostics.Ping())
    app.add_route("/metrics", metrics.Metrics(metrics.ClusterCollector(runtime, broker)))
    app.add_route("/dashboard", dashboard.DashboardPage(runtime))
    app.add_route("/dashboard/sections", dashboard.DashboardSections(runtime))
    app.add_route("/dashboard/login", dashboard.DashboardLogin(runtime))
    app.add_route("/dashboard/logout", dashboard.DashboardLogout(runtime))
    app.add_route("/dashboard/static/{name}", dashboard.DashboardStatic())
    app.add_route("/api/admin/overview", dashboard.Overview(runtime))
    app.add_route("/api/admin/businesses", businesses.Businesses(database))
    app.add_route("/api/admin/businesses/{business_id:int}/rotate-key", businesses.BusinessKeyRotation(runtime))
    app.add_route("/api/admin/businesses/{business_id:int}/disable", businesses.BusinessDisable(runtime))
    app.add_route("/api/admin/queues/{name}/pause", queues.QueuePause(runtime))
    app.add_route("/api/admin/queues/{name}/resume", queues.QueueResume(runtime))
    app.add_route("/api/admin/stats", stats.Stats(runtime))
    app.add_route("/api/admin/tenants", tenants.Tenants(runtime, broker))
    app.add_route("/dashboard/tenants", tenants.TenantsPage(runtime, broker))
    app.add_route("/dashboard/tenants/sections", tenants.TenantsSections(runtime, broker))
    app.add_route("/dashboard/tenants/{business_id:int}", tenants.TenantPage(runtime, broker))
    app.add_route("/dashboard/tenants/{business_id:int}/sections", tenants.TenantSections(runtime, broker))
    app.add_route("/api/admin/jobs", admin_jobs.AdminJobs(database))
    app.add_route("/api/admin/jobs/{job_id}", admin_jobs.AdminJob(runtime))
    app.add_route("/api/admin/bulk", admin_jobs.BulkActions(runtime))
    app.add_route("/dashboard/jobs", dashboard_jobs.DashboardJobs(database))

    # Messaging: receipts, push, reminders, WhatsApp, broadcasts.
    settings, database = runtime.settings, runtime.database
    receipt_files = storage.from_settings(settings)  # this process's store, like the workers'
    app.add_route("/api/receipts", receipts.ReceiptsCollection(database, receipt_files, settings.receipt_max_bytes))
    app.add_route("/api/receipts/delete", receipts.ReceiptsDelete())
    app.add_route("/api/push/subscriptions", push.Subscriptions(database, settings.push_allow_list))
    app.add_route("/api/push/subscriptions/{subscription_id}", push.Subscription(database))
    app.add_route("/api/notifications", push.Notifications())
    app.add_route("/api/reminders", reminders.Reminders(database))
    app.add_route("/api/reminders/{reminder_id}", reminders.Reminder(database))
    app.add_route("/whatsapp/webhook", whatsapp.WhatsAppWebhook(database, ReplayGuard(runtime.redis, runtime.keys),
                                                                settings.whatsapp_webhook_secret))
    app.add_route("/api/broadcasts", broadcasts.BroadcastsCollection(database))
    app.add_route("/api/broadcasts/{broadcast_id:int}", broadcasts.BroadcastItem(database))

    # Recordings and audio sessions.
    settings, files = runtime.settings, recording_files.from_settings(runtime.settings)
    app.add_route("/twilio/recording-status", recordings.TwilioRecordingStatus(runtime.database, settings))
    app.add_route("/api/calls/{call_sid}", recordings.CallResource(runtime.database))
    app.add_route("/api/calls/{call_sid}/recording", recordings.CallRecording(
        runtime.database, files, stuck_after_seconds=settings.recording_stuck_after_seconds,
        idle_queues=lambda: queue_stats.queues_without_consumer(runtime)))
    app.add_route("/api/sessions", sessions.Sessions(runtime.database, files, max_bytes=settings.max_body_bytes,
                                                     max_seconds=settings.session_max_seconds))
    app.add_route("/api/sessions/{session_id}", sessions.SessionResource(runtime.database))

    api.register(app)
    return app

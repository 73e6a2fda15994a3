"""Field API: the server behind the community-policing and fire-safety phone app."""

from __future__ import annotations

import inspect
import logging
from datetime import timedelta

from flask import Flask, Response
from flask_jwt_extended import JWTManager
from flask_smorest import Api
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.middleware.proxy_fix import ProxyFix

import storage
from fieldapi.config import Settings
from fieldapi.core import arguments
from fieldapi.core import db as database
from fieldapi.core.http import CookieSessions
from fieldapi.core.jsonbody import StrictJSONProvider
from fieldapi.core.problems import (
    PreconditionFailed,
    Problem,
    from_http_exception,
    problem_response,
    refuse_unreadable_bodies,
    register_handlers,
)
from fieldapi.core.schemas import ProblemSchema

API_TITLE = "Field API"
API_VERSION = "1.3.0"

log = logging.getLogger(__name__)


class FieldFlask(Flask):
    """Flask, asking once per function whether a view or hook is a coroutine function
    instead of on every request (Flask asks it of each of the dozen hooks every time)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._coroutine: dict = {}

    def ensure_sync(self, func):
        key = getattr(func, "__func__", func)  # a view's bound method is new every time
        coroutine = self._coroutine.get(key)
        if coroutine is None:
            coroutine = self._coroutine[key] = inspect.iscoroutinefunction(func)
        return super().ensure_sync(func) if coroutine else func


class FieldApi(Api):
    """flask-smorest's Api, answering HTTP errors with the problem catalogue."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error):
        return problem_response(from_http_exception(error))


def _blueprints():
    from fieldapi.areas.views import blp as areas
    from fieldapi.audit.views import blp as audit
    from fieldapi.auth.views import blp as auth
    from fieldapi.buildings.views import blp as buildings
    from fieldapi.checklists.views import blp as checklists
    from fieldapi.fieldwork.views import blp as fieldwork
    from fieldapi.ops.views import blp as ops
    from fieldapi.photos.views import blp as photos
    from fieldapi.review.views import blp as review
    from fieldapi.sync.views import blp as sync
    from fieldapi.users.views import blp as users

    return (
        ops,
        auth,
        areas,
        users,
        buildings,
        photos,
        checklists,
        fieldwork,
        review,
        sync,
        audit,
    )


def _configure_jwt(app: Flask) -> None:
    jwt = JWTManager(app)

    def answer(slug: str):
        return lambda *_args: problem_response(Problem(slug=slug))

    jwt.unauthorized_loader(answer("authentication-required"))
    jwt.invalid_token_loader(answer("token-invalid"))
    jwt.expired_token_loader(answer("token-expired"))
    jwt.revoked_token_loader(answer("token-revoked"))
    jwt.needs_fresh_token_loader(answer("token-invalid"))
    jwt.user_lookup_error_loader(answer("token-revoked"))


def _transaction_per_request(app: Flask) -> None:
    """One request, one transaction: commit what a successful view did, else roll back."""

    @app.after_request
    def _finish(response: Response) -> Response:
        ok = response.status_code < 400
        try:
            database.finish_request_session(commit=ok)
        except StaleDataError:
            database.finish_request_session(commit=False)
            return problem_response(PreconditionFailed())
        except Exception:
            log.exception("commit failed")
            database.finish_request_session(commit=False)
            raise
        return response

    app.teardown_appcontext(database.close_request_session)

    @app.after_request
    def _no_content_no_type(response: Response) -> Response:
        if response.status_code == 204:
            response.headers.pop("Content-Type", None)
        return response


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = FieldFlask(__name__, static_folder=None)
    app.json = StrictJSONProvider(app)  # every JSON body is read by one strict reader
    app.config.update(
        SECRET_KEY=settings.secret_key,
        JWT_SECRET_KEY=settings.secret_key,
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=settings.access_token_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=settings.refresh_token_days),
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ALGORITHM="HS256",
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        JSON_SORT_KEYS=False,
    )
    app.session_interface = CookieSessions()
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=1, x_host=1)

    engine = database.make_engine(settings.database_url)
    read_engine = database.make_engine(settings.database_url, autocommit=True)
    blobs = storage.from_url(
        settings.storage_url, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
    )
    from fieldapi.auth.passwords import Passwords
    from fieldapi.auth.throttle import DatabaseCounters, LoginThrottle, RedisCounters

    counters = (
        RedisCounters(settings.redis_url, prefix=f"{settings.redis_prefix}login:")
        if settings.redis_url
        else DatabaseCounters(engine)
    )
    app.extensions.update(
        {
            "fieldapi.settings": settings,
            "fieldapi.engine": engine,
            "fieldapi.sessionmaker": database.make_sessionmaker(engine),
            "fieldapi.read_engine": read_engine,
            "fieldapi.read_sessionmaker": database.make_read_sessionmaker(read_engine),
            "fieldapi.blobs": blobs,
            "fieldapi.passwords": Passwords(
                time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
            ),
            "fieldapi.throttle": LoginThrottle(
                counters,
                per_username=settings.login_failures_per_username,
                per_address=settings.login_failures_per_address,
                window=settings.login_window_seconds,
            ),
        }
    )

    register_handlers(app)
    _configure_jwt(app)
    from fieldapi.ops import telemetry

    telemetry.install(app)  # request ids, metrics, request log lines: outside every other hook
    _transaction_per_request(app)

    from fieldapi.auth.guard import authorize

    app.before_request(authorize)
    # After the gate: a signed-out caller learns to sign in before anything about bodies.
    app.before_request(refuse_unreadable_bodies)
    app.before_request(arguments.refuse_undeclared_query)
    # After the gate (keys belong to the signed-in user) and after the transaction's
    # after_request (so a kept answer is written before the commit).
    from fieldapi.core import idempotency

    idempotency.install(app)

    from fieldapi.core.openapi import ContractPlugin

    api = FieldApi(
        app,
        spec_kwargs={
            "info": {"description": "The phone and web contract."},
            "extra_plugins": [ContractPlugin(app)],
        },
    )
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    api.spec.options["security"] = [{"bearer": []}]
    for blueprint in _blueprints():
        api.register_blueprint(blueprint)

    from fieldapi.cli import register_commands

    register_commands(app)
    return app

"""The app factory: build a configured app and bind the extensions to it."""

import client_errors
from accounts import accounts
from celery_app import celery_init_app
from config import DevelopmentConfig
from extensions import db, login_manager, socketio
from flask import Flask
from polling_guard import PollingGuard
from resources.socket import register_namespaces
from routes import api, pages


def checked_origins(origins) -> list[str]:
    """Refuse to start with "*" (any site may connect) or [] (checking turned off)."""
    if not isinstance(origins, list | tuple) or not origins or "*" in origins:
        raise ValueError(
            f"CORS_ALLOWED_ORIGINS must list the allowed origins explicitly, got {origins!r}"
        )
    return list(origins)


def create_app(config_class: type = DevelopmentConfig) -> Flask:
    app = Flask(__name__)
    app.config.from_object(config_class)

    db.init_app(app)
    socketio.init_app(
        app,
        async_mode="threading",  # explicit: auto-detection would pick gevent when installed
        cors_allowed_origins=checked_origins(app.config["CORS_ALLOWED_ORIGINS"]),
        ping_interval=app.config["PING_INTERVAL"],
        # One client's events run one after another, so its DB session (one per connection,
        # see extensions.session_scope) is never used by two threads at once.
        async_handlers=False,
        # Every web process subscribes to this Redis channel; a worker publishes to it.
        message_queue=app.config["REDIS_URL"],
        max_http_buffer_size=app.config["MAX_HTTP_BUFFER_SIZE"],
    )
    app.wsgi_app = PollingGuard(app.wsgi_app, app.config["MAX_HTTP_BUFFER_SIZE"])
    client_errors.install()
    celery_init_app(app)
    register_namespaces(socketio)
    login_manager.init_app(app)
    app.register_blueprint(pages)
    app.register_blueprint(accounts)
    app.register_blueprint(api)

    with app.app_context():
        db.create_all()
    return app

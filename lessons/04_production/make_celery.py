"""The worker's entry point: `celery -A make_celery:celery_app worker --pool threads`.

The worker builds the same Flask app as the web server (config, database, tasks), but it never
serves a Socket.IO client: it only publishes to the message queue (see tasks.py). It needs no
monkey patching: unpatched, factory.async_mode_for() gives it "threading".
"""

from config import config_from_env
from factory import create_app

flask_app = create_app(config_from_env())
celery_app = flask_app.extensions["celery"]

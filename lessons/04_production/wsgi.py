"""The production entry module: `gunicorn wsgi:app` (gunicorn.conf.py holds the settings).

gunicorn's gevent workers monkey patch the standard library before they import this module,
so the app comes up in async_mode "gevent" (see factory.async_mode_for). APP_CONFIG chooses
the configuration: `production` on a server, where the app refuses unsafe settings.
"""

from config import config_from_env
from factory import create_app

app = create_app(config_from_env())

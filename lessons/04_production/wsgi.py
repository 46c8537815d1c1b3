"""The production entry module: `gunicorn wsgi:app` (gunicorn.conf.py holds the settings).

gunicorn's gevent workers monkey patch the standard library before they import this module,
so the app comes up in async_mode "gevent" (see factory.async_mode_for). APP_CONFIG chooses
the configuration: `production` on a server, where the app refuses unsafe settings.
"""

from config import config_from_env
from factory import create_app


class WithoutWebsocketCompression:
    """WSGI middleware: the server never sees a client's offer of permessage-deflate.

    Browsers offer it on every websocket, and simple-websocket (the `-k gevent` deployment)
    accepts it: each connection then keeps a zlib compressor and decompressor (about 100 KiB),
    and every broadcast is compressed once per client. Chat messages are small, so little is
    saved on the wire. Node's socket.io declines it by default (perMessageDeflate: false).
    gevent-websocket never negotiates extensions, so there this changes nothing.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return self.wsgi_app(environ, start_response)


app = create_app(config_from_env())
app.wsgi_app = WithoutWebsocketCompression(app.wsgi_app)

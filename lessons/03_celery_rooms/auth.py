"""Connect-time authentication: a token in the client's auth dict, or else the session cookie.

A script or an app sends {"token": ...} in its auth dict. A browser page that signed in at
POST /login (accounts.py) may send no token at all: its socket's handshake carries the session
cookie, and Flask-Login's current_user is the user it names.
"""

import hmac

from flask import current_app
from flask_login import current_user
from flask_socketio import ConnectionRefusedError


def user_for(auth) -> str:
    """The user name a valid token belongs to; ConnectionRefusedError otherwise.

    The refusal's message reaches the client (connect_error in the browser), so it says
    what is wrong without saying which tokens exist.
    """
    # Goal: a connect with a known token goes on as its user; one without a token, or with an
    # unknown one, is refused with a message the client sees.
    # Constraint: the message must not reveal which tokens exist, not even through how long a
    # comparison takes. (make hint EX=2.1 if you are stuck.)
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise ConnectionRefusedError("authentication required: send {token} in auth")
    for known, user in current_app.config["CHAT_TOKENS"].items():
        if hmac.compare_digest(known.encode(), token.encode()):
            return user
    raise ConnectionRefusedError("invalid token")


def connecting_user(auth) -> str:
    """Who opens this socket: the token's user when auth holds a token; else the user the
    session cookie signed in; else refused (user_for says why).

    current_user comes from Flask-SocketIO's copy of the Flask session, taken from the cookie
    the handshake carried (manage_session, the default): signing out over HTTP later does
    not change it, which is why /logout ends the user's sockets (accounts.py).
    """
    if isinstance(auth, dict) and "token" in auth:
        return user_for(auth)
    if current_user.is_authenticated:
        return current_user.id
    return user_for(auth)

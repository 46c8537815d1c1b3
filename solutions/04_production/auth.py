"""Connect-time authentication: the client sends {"token": ...} in its auth dict."""

import hmac

from flask import current_app
from flask_socketio import ConnectionRefusedError


def user_for(auth) -> str:
    """The user name a valid token belongs to; ConnectionRefusedError otherwise.

    The refusal's message reaches the client (connect_error in the browser), so it says
    what is wrong without saying which tokens exist.
    """
    # Exercise 2.1: refuse a missing or unknown token with a message; return the user's name.
    ### BEGIN SOLUTION
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise ConnectionRefusedError("authentication required: send {token} in auth")
    for known, user in current_app.config["CHAT_TOKENS"].items():
        if hmac.compare_digest(known.encode(), token.encode()):
            return user
    raise ConnectionRefusedError("invalid token")
    ### END SOLUTION

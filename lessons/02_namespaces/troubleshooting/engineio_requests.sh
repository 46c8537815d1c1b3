#!/bin/sh
# The Engine.IO requests behind the common HTTP 400s, sent by hand to the running app:
#   sh troubleshooting/engineio_requests.sh http://127.0.0.1:5000
# Each prints its status line and the body the server answered (README, "When it doesn't work").
URL=${1:-http://127.0.0.1:5000}
HANDSHAKE="$URL/socket.io/?EIO=4&transport=polling"

ask() {
    echo "== $1"
    shift
    curl -s -i --max-time 10 "$@" | tr -d '\r' | sed -n '1p;$p'
    echo
}

ask "a handshake: 200 and a session id" "$HANDSHAKE"
ask "a page from another site: its Origin is refused" -H "Origin: http://evil.example" "$HANDSHAKE"
ask "a session this process never opened" "$HANDSHAKE&sid=not-a-session"
ask "a client of the old protocol (Engine.IO 3, Socket.IO 2)" "$URL/socket.io/?EIO=3&transport=polling"

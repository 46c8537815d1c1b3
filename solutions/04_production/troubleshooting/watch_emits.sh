#!/bin/sh
# Every message published on the Socket.IO queue, by the web processes and by the worker:
#   sh troubleshooting/watch_emits.sh redis://127.0.0.1:6379/0
# (make run prints the REDIS_URL it uses.) Ctrl-C stops it. Nothing here means nobody emitted,
# or emitted on another Redis or another channel.
REDIS_URL=${1:-${REDIS_URL:-redis://127.0.0.1:6379/0}}
CHANNEL=${2:-${SOCKETIO_CHANNEL:-flask-socketio}}
exec redis-cli -u "$REDIS_URL" SUBSCRIBE "$CHANNEL"

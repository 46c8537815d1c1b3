#!/bin/sh
# Why long-polling needs sticky sessions: open an Engine.IO session on one instance, then poll
# it on the other, as a round-robin load balancer would.
#   sh troubleshooting/sticky_sessions.sh http://127.0.0.1:8001 http://127.0.0.1:8002
FIRST=${1:-http://127.0.0.1:8001}
SECOND=${2:-http://127.0.0.1:8002}
SID=$(curl -s --max-time 10 "$FIRST/socket.io/?EIO=4&transport=polling" | sed 's/.*"sid":"\([^"]*\)".*/\1/')
echo "== session $SID opened on $FIRST"
echo "== the same session polled on $SECOND"
curl -s -i --max-time 10 "$SECOND/socket.io/?EIO=4&transport=polling&sid=$SID" | tr -d '\r' | sed -n '1p;$p'
echo

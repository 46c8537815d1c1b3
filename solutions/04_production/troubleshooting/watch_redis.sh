#!/bin/sh
# Every command any client sends to Redis: Celery's queue (LPUSH, BRPOP), the Socket.IO queue
# (PUBLISH), everything. For debugging only: MONITOR slows Redis down.
#   sh troubleshooting/watch_redis.sh redis://127.0.0.1:6379/0
REDIS_URL=${1:-${REDIS_URL:-redis://127.0.0.1:6379/0}}
exec redis-cli -u "$REDIS_URL" MONITOR

"""kombu's Redis transport for tasks acknowledged late (config.CELERY["broker_transport"]).

With task_acks_late, kombu 5.7's Redis transport kills a worker that loses Redis while a task
runs ("Unrecoverable error: AttributeError: 'NoneType' object has no attribute ..."), in two
places of kombu/transport/redis.py:
- closing the broken channel drops its connection pool, then QoS.restore_unacked() tries to
  put the unacknowledged tasks back through it;
- the task, once finished, acknowledges (QoS.ack) on that closed channel, which has no
  connection any more.
Neither is needed: the task is still in Redis's set of unacknowledged tasks (unless Redis lost
its data), and the visibility timeout hands it out again, to a run that finds its report
finished and does nothing (tasks.claim). So this QoS leaves both to the visibility timeout.
"""

import logging

from kombu.transport import redis

log = logging.getLogger(__name__)


def connection_lost(channel) -> bool:
    return getattr(channel.connection, "client", None) is None


class LateAckQoS(redis.QoS):
    restore_at_shutdown = False

    def ack(self, delivery_tag):
        if connection_lost(self.channel):
            log.warning(
                "task %s not acknowledged: its connection to Redis is gone; Redis hands it out "
                "again after the visibility timeout",
                delivery_tag,
            )
            return
        super().ack(delivery_tag)

    def reject(self, delivery_tag, requeue=False):
        if connection_lost(self.channel):
            log.warning("task %s not rejected: its connection to Redis is gone", delivery_tag)
            return
        super().reject(delivery_tag, requeue=requeue)


class Channel(redis.Channel):
    QoS = LateAckQoS


class Transport(redis.Transport):
    Channel = Channel

"""Scheduled maintenance, run by `manage.py scheduler` (rq's cron scheduler, media/worker.py).

The jobs run on the `default` queue, so any worker that serves it runs them. Stalled media are looked at
every STALLED_CHECK_SECONDS: a job whose worker died is queued again within a minute.
"""

from django.conf import settings
from rq import cron

from media import maintenance

cron.register(maintenance.expire_pending, queue_name="default", cron="*/10 * * * *")
cron.register(maintenance.resume_stalled, queue_name="default", interval=settings.STALLED_CHECK_SECONDS)
cron.register(maintenance.sweep_spool, queue_name="default", interval=settings.STALLED_CHECK_SECONDS)
cron.register(maintenance.purge_old, queue_name="default", cron="17 3 * * *")
# a dry run: it counts the orphaned objects for /metrics; `manage.py purge_orphans --for-real` deletes them
cron.register(maintenance.purge_orphans, queue_name="default", cron="41 * * * *")

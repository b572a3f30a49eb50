"""Scheduled maintenance, run by `manage.py rqcron media.cron` (rq's cron scheduler).

The jobs run on the `default` queue, so any worker that serves it runs them.
"""

from rq import cron

from media import maintenance

cron.register(maintenance.expire_pending, queue_name="default", cron="*/10 * * * *")
cron.register(maintenance.resume_stalled, queue_name="default", cron="*/5 * * * *")
cron.register(maintenance.purge_old, queue_name="default", cron="17 3 * * *")
# a dry run: it counts the orphaned objects for /metrics; `manage.py purge_orphans --for-real` deletes them
cron.register(maintenance.purge_orphans, queue_name="default", cron="41 * * * *")

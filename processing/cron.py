"""Scheduled maintenance, run by `manage.py rqcron processing.cron` (rq's cron scheduler)."""

from rq import cron

from processing import maintenance

cron.register(maintenance.expire_pending, queue_name="default", cron="*/10 * * * *")

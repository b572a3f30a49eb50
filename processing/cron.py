"""Scheduled maintenance, run by `manage.py rqcron processing.cron` (rq's cron scheduler)."""

from rq import cron

# The maintenance jobs (expiry, resuming stalled media, retention) register here.

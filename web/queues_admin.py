"""The admin's queue page (/admin/queues/): counts per queue and state, the workers and what each is doing,
and the controls: pause and resume a queue, empty it, requeue a failed job. Each control is one call of
`media.queue_control`; viewing needs staff, acting needs the media change permission (as retrying does)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from redis.exceptions import RedisError

from media import queue_control


def _act(request: HttpRequest) -> str:
    """Run the posted control; returns what to tell the operator."""
    action, name = request.POST.get("action", ""), request.POST.get("queue", "")
    if action == "pause":
        queue_control.queue_pause(name=name)
        return f"Queue {name} paused: its workers finish what they run and take nothing new from it."
    if action == "resume":
        queue_control.queue_resume(name=name)
        return f"Queue {name} resumed."
    if action == "empty":
        dropped = queue_control.queue_empty(name=name)
        return f"Queue {name} emptied: {dropped} waiting jobs dropped (their media are queued again later)."
    if action == "requeue":
        job_id = request.POST.get("job_id", "")
        if queue_control.job_requeue(name=name, job_id=job_id):
            return f"Job {job_id} queued again."
        raise ValueError(f"job {job_id} is no failed job of {name}, or its media needs nothing more")
    raise ValueError(f"unknown action {action!r}")


@require_http_methods(["GET", "POST"])
def queues_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not request.user.has_perm("media.change_media"):
            raise PermissionDenied
        try:
            messages.success(request, _act(request))
        except ValueError as exc:
            messages.error(request, str(exc).capitalize() + ".")
        except RedisError:
            messages.error(request, "Redis does not answer; nothing was changed. Try again in a moment.")
        return HttpResponseRedirect(reverse("admin-queues"))
    try:
        queues, workers = queue_control.overview()
    except RedisError:
        queues, workers = [], []
        messages.error(request, "Redis does not answer: the queues cannot be shown now.")
    context = {
        **admin.site.each_context(request),
        "title": "Queues",
        "queues": queues,
        "workers": workers,
        "states": queue_control.STATES,
        "can_act": request.user.has_perm("media.change_media"),
    }
    return render(request, "admin/queues.html", context)


queues_view = admin.site.admin_view(queues_page)

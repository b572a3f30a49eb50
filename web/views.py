"""The upload page and its login: server-rendered shells; the page talks to the API and the WebSocket itself."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse, reverse_lazy

from processing import formats

RECENT_PAGE_SIZE = 20  # media listed after a reload


@login_required(login_url=reverse_lazy("login"))
def upload_page(request: HttpRequest) -> HttpResponse:
    by_extension = formats.extension_types()
    config = {
        "api": reverse("media-list"),
        "ws": "/ws/media/",
        "pageSize": RECENT_PAGE_SIZE,
        "csrfToken": get_token(request),  # the page calls the API with the session, so CSRF applies
        "typeByExtension": by_extension,  # browsers leave File.type empty for some formats
    }
    accepted = [t for rules in settings.MEDIA_KINDS.values() for t in rules["types"]]
    accept = ",".join([*accepted, *(f".{extension}" for extension in by_extension)])
    return render(request, "media/upload.html", {"config": config, "accept": accept})


class LoginPage(auth_views.LoginView):
    """Any active user logs in here (the admin's login takes staff only)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("upload-page")


class LogoutPage(auth_views.LogoutView):
    next_page = reverse_lazy("login")

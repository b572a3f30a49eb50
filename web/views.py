"""The upload page and its login: server-rendered shells; the page talks to the API and the WebSocket itself."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse, reverse_lazy

RECENT_PAGE_SIZE = 20  # media listed after a reload


@login_required(login_url=reverse_lazy("login"))
def upload_page(request: HttpRequest) -> HttpResponse:
    config = {
        "api": reverse("media-list"),
        "ws": "/ws/media/",
        "pageSize": RECENT_PAGE_SIZE,
        "csrfToken": get_token(request),  # the page calls the API with the session, so CSRF applies
    }
    return render(request, "media/upload.html", {"config": config})


class LoginPage(auth_views.LoginView):
    """Any active user logs in here (the admin's login takes staff only)."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True
    next_page = reverse_lazy("upload-page")


class LogoutPage(auth_views.LogoutView):
    next_page = reverse_lazy("login")

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from media.health import health
from media.metrics import metrics
from media.views import LoginPage, LogoutPage, upload_page

urlpatterns = [
    path("", upload_page, name="upload-page"),
    path("login/", LoginPage.as_view(), name="login"),
    path("logout/", LogoutPage.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/health/", health, name="health"),
    path("api/", include("media.urls")),
    path("metrics", metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from web.health import health
from web.metrics import metrics
from web.queues_admin import queues_view
from web.views import LoginPage, LogoutPage, upload_page

urlpatterns = [
    path("", upload_page, name="upload-page"),
    path("login/", LoginPage.as_view(), name="login"),
    path("logout/", LogoutPage.as_view(), name="logout"),
    path("admin/queues/", queues_view, name="admin-queues"),
    path("admin/", admin.site.urls),
    path("api/health/", health, name="health"),
    path("api/", include("web.urls")),
    path("metrics", metrics, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]

# Errors raised before a view runs (a body over the size limit, say) answer in the API's JSON shape.
handler400 = "web.api.bad_request"

"""HTTP through Django, WebSocket through Channels, on one ASGI server."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mediahub.settings")
django_asgi = get_asgi_application()  # set Django up before importing anything that touches models

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from web.admission import Admission  # noqa: E402
from web.routing import websocket_urlpatterns  # noqa: E402
from web.ws_auth import websocket_auth  # noqa: E402

application = ProtocolTypeRouter(
    {
        # a bounded number of requests at once; the excess is refused 503 before it costs anything
        "http": Admission(
            django_asgi,
            limit=settings.MAX_CONCURRENT_REQUESTS,
            wait=settings.ADMISSION_WAIT,
            retry_after=settings.ADMISSION_RETRY_AFTER,
        ),
        # Origin checked against ALLOWED_HOSTS, then the session, then ?token= (web.ws_auth)
        "websocket": websocket_auth(URLRouter(websocket_urlpatterns)),
    }
)

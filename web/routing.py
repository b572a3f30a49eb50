from django.urls import path

from web.consumers import MediaConsumer

websocket_urlpatterns = [path("ws/media/", MediaConsumer.as_asgi())]

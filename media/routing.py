
websocket_urlpatterns: list = []  # the consumer at /ws/media/ lands with the WebSocket issue

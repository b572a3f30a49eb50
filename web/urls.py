from django.urls import path

from web import api, hls_access

urlpatterns = [
    path("auth/token/", api.TokenApi.as_view(), name="auth-token"),
    path("media/", api.MediaListCreateApi.as_view(), name="media-list"),
    path("media/<uuid:pk>/", api.MediaDetailApi.as_view(), name="media-detail"),
    path("media/<uuid:pk>/confirm/", api.MediaConfirmApi.as_view(), name="media-confirm"),
    path("media/<uuid:pk>/retry/", api.MediaRetryApi.as_view(), name="media-retry"),
    path("media/<uuid:pk>/upload/", api.MediaUploadApi.as_view(), name="media-upload"),
    path("media/<uuid:pk>/parts/", api.MediaPartsApi.as_view(), name="media-parts"),
    path("media/<uuid:pk>/complete/", api.MediaCompleteApi.as_view(), name="media-complete"),
    path("media/<uuid:pk>/hls/<path:path>", hls_access.playlist, name="media-hls"),
    path("media/<uuid:pk>/storyboard.vtt", hls_access.storyboard, name="media-storyboard"),
]

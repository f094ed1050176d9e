"""URL map: each wizard step app and the feed pages mount under a workspace."""

from django.urls import include, path

urlpatterns = [
    path("", include("feeds.accounts.urls")),
    path("", include("feeds.urls")),
    path("", include("feeds.connect.urls")),
    path("", include("feeds.model.urls")),
    path("", include("feeds.map.urls")),
    path("", include("feeds.schedule.urls")),
    path("", include("feeds.review.urls")),
    path("", include("feeds.api.urls")),
    path("", include("feeds.ops.urls")),
    path("", include("feeds.rules.urls")),
    path("", include("feeds.outputs.urls")),
]

from django.urls import path

from feeds.ops import views

app_name = "ops"
urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics_view, name="metrics"),
    path("w/<slug:ws>/settings/alerts/", views.alert_settings, name="alerts"),
]

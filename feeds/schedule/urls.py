from django.urls import path

from feeds.schedule import views

app_name = "schedule"
base = "w/<slug:ws>/feeds/<int:feed_id>/setup/schedule/"
urlpatterns = [
    path(base, views.step, name="step"),
    path(base + "preview/", views.preview, name="preview"),
    path(base + "iterator-check/", views.iterator_check, name="iterator_check"),
]

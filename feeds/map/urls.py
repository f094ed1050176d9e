from django.urls import path

from feeds.map import views

app_name = "map"
base = "w/<slug:ws>/feeds/<int:feed_id>/setup/map/"
urlpatterns = [
    path(base, views.step, name="step"),
    path(base + "type/", views.pipeline_type, name="pipeline_type"),
    path(base + "preview/", views.preview, name="preview"),
    path(base + "add/", views.add, name="add"),
    path(base + "node/<int:index>/", views.node, name="node"),
    path(base + "node/<int:index>/delete/", views.delete, name="delete"),
]

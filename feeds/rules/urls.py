from django.urls import path

from feeds.rules import views

app_name = "rules"
_BASE = "w/<slug:ws>/feeds/<int:feed_id>/rules/"
urlpatterns = [
    path(_BASE, views.editor, name="editor"),
    path(f"{_BASE}steps/", views.save_step, name="add_step"),
    path(f"{_BASE}steps/<slug:step_id>/", views.save_step, name="save_step"),
    path(f"{_BASE}steps/<slug:step_id>/<slug:change>/", views.change_step, name="change_step"),
    path(f"{_BASE}preview/", views.preview, name="preview"),
    path(f"{_BASE}activate/", views.activate, name="activate"),
]

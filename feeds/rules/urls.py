from django.urls import path

from feeds.rules import views

app_name = "rules"
# <scope> is "feed" (the feed's own rules) or "output-<connection id>" (what one connected output receives).
_BASE = "w/<slug:ws>/feeds/<int:feed_id>/rules/<slug:scope>/"
urlpatterns = [
    path("w/<slug:ws>/feeds/<int:feed_id>/rules/", views.editor, {"scope": "feed"}, name="feed_editor"),
    path(_BASE, views.editor, name="editor"),
    path(f"{_BASE}steps/", views.save_step, name="add_step"),
    path(f"{_BASE}steps/<slug:step_id>/", views.save_step, name="save_step"),
    path(f"{_BASE}steps/<slug:step_id>/<slug:change>/", views.change_step, name="change_step"),
    path(f"{_BASE}preview/", views.preview, name="preview"),
    path(f"{_BASE}activate/", views.activate, name="activate"),
]

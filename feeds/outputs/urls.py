from django.urls import path

from feeds.outputs import views

app_name = "outputs"
urlpatterns = [
    path("w/<slug:ws>/outputs/", views.directory, name="directory"),
    path("w/<slug:ws>/outputs/new/<slug:kind>/", views.new_output, name="new"),
    path("w/<slug:ws>/outputs/<int:output_id>/", views.edit_output, name="edit"),
    path("w/<slug:ws>/outputs/<int:output_id>/test/", views.send_test, name="test"),
    path("w/<slug:ws>/outputs/<int:output_id>/delete/", views.delete_output, name="delete"),
    path("w/<slug:ws>/outputs/<int:output_id>/reactivate/", views.reactivate, name="reactivate"),
    path("w/<slug:ws>/feeds/<int:feed_id>/outputs/connect/", views.connect, name="connect"),
    path("w/<slug:ws>/connected-outputs/<int:connection_id>/pause/", views.pause, name="pause"),
    path(
        "w/<slug:ws>/connected-outputs/<int:connection_id>/disconnect/", views.disconnect, name="disconnect"
    ),
    path(
        "w/<slug:ws>/connected-outputs/<int:connection_id>/dead-letters/",
        views.dead_letters,
        name="dead_letters",
    ),
    path(
        "w/<slug:ws>/connected-outputs/<int:connection_id>/dead-letters/<int:batch_id>.json",
        views.download_dead_letter,
        name="download_dead_letter",
    ),
    path("w/<slug:ws>/connected-outputs/<int:connection_id>/redeliver/", views.redeliver, name="redeliver"),
]

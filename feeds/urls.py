from django.urls import path

from feeds.pages import views
from feeds.profiles import views as explorer_views

app_name = "feeds"
urlpatterns = [
    path("", views.home, name="home"),
    path("w/<slug:ws>/feeds/", views.feed_list, name="list"),
    path("w/<slug:ws>/feeds/<int:feed_id>/", views.feed_summary, name="summary"),
    path("w/<slug:ws>/feeds/<int:feed_id>/run/", views.run_sync, name="run"),
    path("w/<slug:ws>/feeds/<int:feed_id>/pause/", views.pause_sync, name="pause"),
    path("w/<slug:ws>/feeds/<int:feed_id>/resume/", views.resume_sync, name="resume"),
    path("w/<slug:ws>/feeds/<int:feed_id>/delete/", views.delete_feed, name="delete"),
    path("w/<slug:ws>/feeds/<int:feed_id>/runs/<int:run_id>/", views.run_detail, name="run_detail"),
    path("w/<slug:ws>/feeds/<int:feed_id>/runs/<int:run_id>/restart/", views.restart_run, name="restart_run"),
    path(
        "w/<slug:ws>/feeds/<int:feed_id>/runs/<int:run_id>/rejected.csv",
        views.rejected_csv,
        name="rejected_csv",
    ),
    path("w/<slug:ws>/profiles/", explorer_views.profile_list, name="profiles"),
]
urlpatterns += [
    path("w/<slug:ws>/profiles/<int:mpid>/", explorer_views.profile_detail, name="profile"),
]

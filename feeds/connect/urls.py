from django.urls import path

from feeds.connect import views

app_name = "connect"
urlpatterns = [
    path("w/<slug:ws>/directory/", views.directory, name="directory"),
    path("w/<slug:ws>/feeds/new/<str:provider>/", views.new, name="new"),
    path("w/<slug:ws>/feeds/new/<str:provider>/test/", views.test, name="test"),
    path("w/<slug:ws>/feeds/new/<str:provider>/prepare/", views.prepare, name="prepare"),
    path("w/<slug:ws>/feeds/<int:feed_id>/setup/connect/", views.step, name="step"),
    path("w/<slug:ws>/feeds/<int:feed_id>/setup/connect/test/<str:provider>/", views.test, name="test_feed"),
]

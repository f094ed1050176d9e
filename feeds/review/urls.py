from django.urls import path

from feeds.review import views

app_name = "review"
base = "w/<slug:ws>/feeds/<int:feed_id>/setup/review/"
urlpatterns = [
    path(base, views.step, name="step"),
    path(base + "checks/", views.checks, name="checks"),
    path(base + "sample/", views.sample, name="sample"),
    path(base + "activate/", views.activate, name="activate"),
    path(base + "discard/", views.discard, name="discard"),
]

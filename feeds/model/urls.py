from django.urls import path

from feeds.model import views

app_name = "model"
urlpatterns = [
    path("w/<slug:ws>/feeds/<int:feed_id>/setup/model/", views.step, name="step"),
    path("w/<slug:ws>/feeds/<int:feed_id>/setup/model/validate/", views.validate, name="validate"),
    path("w/<slug:ws>/feeds/<int:feed_id>/setup/model/run/", views.run, name="run"),
]

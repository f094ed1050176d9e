from django.contrib.auth import views as auth_views
from django.urls import path

from feeds.accounts import views

app_name = "accounts"
urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(template_name="accounts/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("w/<slug:ws>/settings/members/", views.member_list, name="members"),
    path("w/<slug:ws>/settings/members/<int:member_id>/role/", views.member_role, name="member_role"),
    path("w/<slug:ws>/settings/members/<int:member_id>/remove/", views.member_remove, name="member_remove"),
    path("w/<slug:ws>/settings/audit/", views.audit_log, name="audit"),
]

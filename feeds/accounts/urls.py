from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from feeds.accounts import views
from feeds.accounts.forms import SignInForm

app_name = "accounts"
FORM_PAGE = "accounts/password_form.html"
DONE_PAGE = "accounts/password_done.html"
urlpatterns = [
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html", authentication_form=SignInForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(
            template_name=FORM_PAGE, success_url=reverse_lazy("accounts:password_change_done")
        ),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name=DONE_PAGE, extra_context={"note": "Your password was changed."}
        ),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        auth_views.PasswordResetView.as_view(
            template_name=FORM_PAGE,
            email_template_name="accounts/email/password_reset.txt",
            subject_template_name="accounts/email/password_reset_subject.txt",
            success_url=reverse_lazy("accounts:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(
            template_name=DONE_PAGE,
            extra_context={
                "note": "If that address belongs to a wsync account, an email with a link to choose a new "
                "password is on its way. Check your inbox (and spam folder)."
            },
        ),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        views.ResetConfirmView.as_view(
            template_name=FORM_PAGE, success_url=reverse_lazy("accounts:password_reset_complete")
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name=DONE_PAGE, extra_context={"note": "Your new password is set. Sign in with it."}
        ),
        name="password_reset_complete",
    ),
    path("accounts/invite/<uidb64>/<token>/", views.InviteAcceptView.as_view(), name="invite"),
    path("w/<slug:ws>/settings/members/", views.member_list, name="members"),
    path("w/<slug:ws>/settings/members/<int:member_id>/role/", views.member_role, name="member_role"),
    path("w/<slug:ws>/settings/members/<int:member_id>/remove/", views.member_remove, name="member_remove"),
    path(
        "w/<slug:ws>/settings/members/<int:member_id>/invite/", views.member_reinvite, name="member_reinvite"
    ),
    path("w/<slug:ws>/settings/audit/", views.audit_log, name="audit"),
]

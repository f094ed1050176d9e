"""Finding 4: without WSYNC_DEV / WSYNC_DEBUG the settings are safe by default (Secure cookies, HTTPS redirect,
HSTS, `check --deploy` clean), a Content-Security-Policy is sent, and no template carries inline script or
style that the policy would block."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.personas import client_for

ROOT = Path(__file__).resolve().parents[2]
SHOW_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({name: getattr(s, name, None) for name in [
    "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER", "SESSION_COOKIE_AGE", "EMAIL_BACKEND", "EMAIL_HOST"]}))
"""


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Return the environment of a production start: real secrets, no development switches."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WSYNC_", "DATABASE_URL", "DJANGO_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="wsync_site.settings",
        SECRET_KEY=secrets.token_urlsafe(50),
        WSYNC_FERNET_KEYS=Fernet.generate_key().decode(),
        WSYNC_DATA_DIR=str(tmp_path),
        ALLOWED_HOSTS="wsync.example.com",
    )
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def settings_of(env: dict[str, str]) -> dict:
    done = run([sys.executable, "-c", SHOW_SETTINGS], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_it_passes_check_deploy_under_production_settings(tmp_path):
    done = run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        production_env(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_it_is_safe_by_default_in_production(tmp_path):
    values = settings_of(production_env(tmp_path))
    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["SESSION_COOKIE_AGE"] == 120 * 60  # idle timeout, not Django's two weeks
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"


def test_it_takes_the_proxy_header_and_opt_outs_from_the_environment(tmp_path):
    env = production_env(
        tmp_path,
        WSYNC_PROXY_SSL_HEADER="X-Forwarded-Proto",
        WSYNC_SSL_REDIRECT="0",
        WSYNC_HSTS_SECONDS="3600",
        WSYNC_SESSION_IDLE_MINUTES="30",
        EMAIL_HOST="smtp.example.com",
    )
    values = settings_of(env)
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["SECURE_SSL_REDIRECT"] is False and values["SECURE_HSTS_SECONDS"] == 3600
    assert values["SESSION_COOKIE_AGE"] == 30 * 60 and values["EMAIL_HOST"] == "smtp.example.com"


def test_it_keeps_development_on_plain_http(tmp_path):
    values = settings_of(production_env(tmp_path, WSYNC_DEV="1"))
    assert values["SESSION_COOKIE_SECURE"] is False and values["SECURE_SSL_REDIRECT"] is False
    assert values["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


@pytest.mark.parametrize("path", ["/accounts/login/", "/w/acme/feeds/"])
def test_it_sends_a_content_security_policy_without_inline_allowances(viewer, path):
    policy = client_for(viewer).get(path)["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";") if d.strip())
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe" not in policy


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script> block"),
    (re.compile(r"<style\b", re.I), "a <style> block"),
    (re.compile(r"\sstyle=", re.I), "a style attribute"),
    (re.compile(r"\son[a-z]+=", re.I), "an inline event handler"),
    (re.compile(r"\shx-on", re.I), "an hx-on handler (evaluated code)"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
]


def test_it_keeps_inline_script_and_style_out_of_every_template():
    found = [
        f"{path.relative_to(ROOT)}: {what}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for pattern, what in INLINE
        if pattern.search(path.read_text())
    ]
    assert found == []

"""Persona fixtures: an admin, an editor and a viewer of workspace “Acme”, and an outsider from “Other”."""

from __future__ import annotations

import pytest
from django.test import Client

from feeds.accounts.models import Membership, Role, Workspace
from feeds.accounts.people import ensure_user

PASSWORD = "correct horse battery staple"


@pytest.fixture
def workspace(db: None) -> Workspace:
    return Workspace.objects.create(slug="acme", name="Acme")


@pytest.fixture
def other_workspace(db: None) -> Workspace:
    return Workspace.objects.create(slug="other", name="Other")


def _member(workspace: Workspace, email: str, role: str) -> object:
    user, _ = ensure_user(email, PASSWORD)
    Membership.objects.create(workspace=workspace, user=user, role=role)
    return user


@pytest.fixture
def admin(workspace: Workspace) -> object:
    return _member(workspace, "alice@acme.example", Role.ADMIN)


@pytest.fixture
def editor(workspace: Workspace) -> object:
    return _member(workspace, "eddie@acme.example", Role.EDITOR)


@pytest.fixture
def viewer(workspace: Workspace) -> object:
    return _member(workspace, "vera@acme.example", Role.VIEWER)


@pytest.fixture
def outsider(other_workspace: Workspace) -> object:
    return _member(other_workspace, "olga@other.example", Role.ADMIN)


def client_for(user: object) -> Client:
    client = Client()
    client.force_login(user)  # type: ignore[arg-type]
    return client

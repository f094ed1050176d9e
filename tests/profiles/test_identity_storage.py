"""Identities keyed by (workspace, environment, type, value) and held on the profile row too.

The migration moves existing identities both ways; a workspace's deletion removes its identities without
looking them up by profile (the identity table has no index for that).
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from feeds.profiles.models import Identity, Profile
from tests.migrating import migrate
from tests.profile_fixtures import identities_by_profile, make_profile
from tests.profiles.conftest import apply, batch

ROWS, KEYED = ("profiles", "0006_profile_origin"), ("profiles", "0007_identities_keyed_by_value")


def _rows(identity_model) -> set[tuple]:
    return set(
        identity_model.objects.values_list(
            "workspace_id", "environment", "identity_type", "value", "profile_id", "feed_id"
        )
    )


@pytest.mark.django_db(transaction=True)
def test_identities_move_to_their_natural_key_and_onto_their_profiles_and_back(workspace, other_workspace):
    old = migrate(ROWS)
    profile, identity = old.get_model("profiles", "Profile"), old.get_model("profiles", "Identity")
    ada, alan, bare = (
        profile.objects.create(workspace_id=ws.pk, environment=env, mpid=mpid)
        for ws, env, mpid in [(workspace, "production", 1), (workspace, "development", 2), (other_workspace, "production", 3)]
    )  # fmt: skip
    for p, kind, value, feed_id in [
        (ada, "customer_id", "C1", 7),
        (ada, "email", "ada@x", None),
        (alan, "email", "ada@x", 8),  # the same value in another environment is another identity
    ]:
        identity.objects.create(
            workspace_id=p.workspace_id, environment=p.environment, identity_type=kind, value=value,
            profile_id=p.pk, feed_id=feed_id,
        )  # fmt: skip
    before = _rows(identity)

    new = migrate(KEYED)
    keyed = new.get_model("profiles", "Identity")
    assert _rows(keyed) == before
    documents = dict(new.get_model("profiles", "Profile").objects.values_list("mpid", "identities"))
    assert documents == {1: {"customer_id": "C1", "email": "ada@x"}, 2: {"email": "ada@x"}, 3: {}}
    assert keyed.objects.get(pk=(workspace.pk, "production", "email", "ada@x")).profile_id == ada.pk
    with pytest.raises(IntegrityError), transaction.atomic():  # the key is the primary key
        keyed.objects.create(
            workspace_id=workspace.pk, environment="production", identity_type="email", value="ada@x", profile_id=bare.pk
        )  # fmt: skip
    keyed.objects.create(  # after the move: back, it becomes a row of the old table too
        workspace_id=other_workspace.pk, environment="production", identity_type="email", value="b@x", profile_id=bare.pk
    )  # fmt: skip

    back = migrate(ROWS)
    identity = back.get_model("profiles", "Identity")
    back_rows = _rows(identity)
    assert back_rows == before | {(other_workspace.pk, "production", "email", "b@x", bare.pk, None)}
    with pytest.raises(IntegrityError), transaction.atomic():  # one value per type and profile, as before
        identity.objects.create(
            workspace_id=workspace.pk, environment="production", identity_type="email", value="other@x", profile_id=ada.pk
        )  # fmt: skip
    _migrate_to_the_newest()
    assert _rows(Identity) == back_rows


def _migrate_to_the_newest() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_workspaces_deletion_removes_its_identities_by_key_not_by_profile(workspace, other_workspace):
    # Built by hand: a workspace with feeds cannot be deleted (its connections are protected).
    for ws in (workspace, other_workspace):
        make_profile(ws, 1, {"customer_id": "C1", "email": "ada@x"})
        make_profile(ws, 2, {"customer_id": "C2"})
    kept = identities_by_profile(other_workspace)

    with CaptureQueriesContext(connection) as queries:
        workspace.delete()

    touching = [q["sql"] for q in queries if Identity._meta.db_table in q["sql"]]
    assert touching and not [sql for sql in touching if "profile_id" in sql]  # no scan per profile
    assert not Identity.objects.filter(workspace_id=workspace.pk).exists()
    assert not Profile.objects.filter(workspace_id=workspace.pk).exists()
    assert identities_by_profile(other_workspace) == kept and len(kept) == 2


def test_a_profile_reads_its_identities_from_its_row(feed):
    apply(feed, batch({"customer_id": "C1", "email": "ada@x"}))
    apply(feed, batch({"customer_id": "C1", "email": "new@x"}), orders=[5])
    profile = Profile.objects.get()
    assert profile.identities == {"customer_id": "C1", "email": "new@x"}
    assert profile.identity_pairs() == [("customer_id", "C1"), ("email", "new@x")]
    assert not Identity.objects.filter(value="ada@x").exists()  # released by its key
    assert Identity.objects.get(pk=(feed.workspace_id, "production", "email", "new@x")).feed_id == feed.pk

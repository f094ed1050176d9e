"""The profile store's data migrations keep every attribute value and its lineage."""

from __future__ import annotations

import pytest

from tests.migrating import migrate, migrate_to_latest

BEFORE, AFTER = ("profiles", "0003_attributes_document"), ("profiles", "0004_attribute_set_at_per_run")


@pytest.mark.django_db(transaction=True)
def test_attribute_timestamps_move_to_one_per_run_and_back():
    apps = migrate(BEFORE)
    Workspace = apps.get_model("accounts", "Workspace")
    Profile = apps.get_model("profiles", "Profile")
    workspace = Workspace.objects.create(slug="m", name="M")
    attributes = {
        "plan": ["pro", 3, 7, "2026-01-02", "2026-11-30T10:00:00+00:00"],
        "tags": [["a", "b"], 3, 7, "2026-01-02", "2026-11-30T10:00:01+00:00"],
        "age": [42, 4, None, "", "2026-11-29T08:00:00+00:00"],
    }
    Profile.objects.create(workspace=workspace, environment="production", mpid=1, attributes=attributes)

    Profile = migrate(AFTER).get_model("profiles", "Profile")
    profile = Profile.objects.get(mpid=1)
    assert profile.attributes == {
        "plan": ["pro", 3, 7, "2026-01-02"],
        "tags": [["a", "b"], 3, 7, "2026-01-02"],
        "age": [42, 4, None, ""],
    }
    # One time per run: the latest time the run wrote one of the profile's values.
    assert profile.set_at == {"7": "2026-11-30T10:00:01+00:00", "": "2026-11-29T08:00:00+00:00"}

    Profile = migrate(BEFORE).get_model("profiles", "Profile")
    back = Profile.objects.get(mpid=1).attributes
    assert back["age"] == attributes["age"] and back["plan"][:4] == attributes["plan"][:4]
    assert back["tags"][4] == "2026-11-30T10:00:01+00:00"
    migrate_to_latest()


@pytest.mark.django_db(transaction=True)
def test_values_stored_with_their_profiles_origin_are_written_in_full_when_origins_go():
    apps = migrate(("profiles", "0006_profile_origin"))
    Profile = apps.get_model("profiles", "Profile")
    ws = apps.get_model("accounts", "Workspace").objects.create(slug="o", name="O")
    packed = {"plan": ["pro"], "age": [42, 4, 9, "2026-02-01"], "tags": [["a", "b"]]}
    Profile.objects.create(
        workspace=ws, environment="production", mpid=1, attributes=packed, origin=[3, 7, "2026-01-02"]
    )
    Profile.objects.create(workspace=ws, environment="production", mpid=2, attributes={"x": [1, 3, 7, ""]})

    Profile = migrate(("profiles", "0005_explorer_landing_index")).get_model("profiles", "Profile")
    assert Profile.objects.get(mpid=1).attributes == {
        "plan": ["pro", 3, 7, "2026-01-02"],
        "age": [42, 4, 9, "2026-02-01"],
        "tags": [["a", "b"], 3, 7, "2026-01-02"],
    }
    assert Profile.objects.get(mpid=2).attributes == {"x": [1, 3, 7, ""]}
    migrate_to_latest()

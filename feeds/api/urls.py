"""The REST API (/oauth/token, /platform/v2/...) and the API-credential settings page."""

from __future__ import annotations

from django.urls import path, re_path

from feeds.api import errors
from feeds.api.views import (
    connections,
    data_models,
    docs,
    oauth,
    outputs,
    pipelines,
    rules,
    settings,
    transformations,
)

app_name = "api"
V2 = "platform/v2/workspaces/<slug:ws>/"
urlpatterns = [
    path("w/<slug:ws>/settings/api/", settings.credential_list, name="credentials"),
    path(
        "w/<slug:ws>/settings/api/<int:credential_id>/revoke/",
        settings.credential_revoke,
        name="credential_revoke",
    ),
    path(
        "w/<slug:ws>/settings/api/<int:credential_id>/take-over/",
        settings.credential_take_over,
        name="credential_take_over",
    ),
    path("platform/v2/openapi.json", docs.schema, name="schema"),
    path("platform/v2/docs/", docs.reference, name="docs"),
    path("oauth/token", oauth.token, name="token"),
    path(V2 + "connections", connections.connection_list, name="connections"),
    path(V2 + "connections/<str:connection_id>", connections.connection_detail, name="connection"),
    path(V2 + "data-models", data_models.data_model_list, name="data_models"),
    path(V2 + "data-models/<str:model_id>", data_models.data_model_detail, name="data_model"),
    path(V2 + "field-transformations", transformations.transformation_list, name="transformations"),
    path(
        V2 + "field-transformations/<str:transformation_id>",
        transformations.transformation_detail,
        name="transformation",
    ),
    path(V2 + "outputs", outputs.output_list, name="outputs"),
    path(V2 + "outputs/<str:output_id>", outputs.output_detail, name="output"),
    path(V2 + "outputs/<str:output_id>/test", outputs.output_test, name="output_test"),
    path(V2 + "pipelines/<str:pipeline_id>/outputs", outputs.connection_list, name="pipeline_outputs"),
    path(
        V2 + "pipelines/<str:pipeline_id>/outputs/<str:connection_id>",
        outputs.connection_detail,
        name="pipeline_output",
    ),
    path(
        V2 + "pipelines/<str:pipeline_id>/outputs/<str:connection_id>/dead-letters",
        outputs.dead_letters,
        name="pipeline_output_dead_letters",
    ),
    path(V2 + "pipelines", pipelines.pipeline_list, name="pipelines"),
    path(V2 + "pipelines/<str:pipeline_id>", pipelines.pipeline_detail, name="pipeline"),
    path(V2 + "pipelines/<str:pipeline_id>/trigger", pipelines.trigger, name="trigger"),
    path(V2 + "pipelines/<str:pipeline_id>/report", pipelines.report, name="report"),
    path(V2 + "pipelines/<str:pipeline_id>/runs", pipelines.run_list, name="runs"),
    path(V2 + "pipelines/<str:pipeline_id>/runs/<str:run_id>", pipelines.run_detail, name="run"),
    path(
        V2 + "pipelines/<str:pipeline_id>/runs/<str:run_id>/restart",
        pipelines.restart_run,
        name="run_restart",
    ),
    path(V2 + "rules", rules.rules_list, name="rules"),
    path(V2 + "rules/<str:pipeline_id>", rules.rules_detail, name="rule"),
    path(V2 + "rules/<str:pipeline_id>/outputs/<str:connection_id>", rules.output_rules, name="output_rule"),
    # mParticle's v1 (and early-access) addresses: 410 with the v2 address to use instead.
    re_path(r"^(?P<path>platform/(v1|experimental)/.*)$", errors.gone, name="v1_gone"),
    # Anything else under the API's prefixes answers in the API's error shape, not an HTML page.
    re_path(r"^(?P<path>(platform|oauth)(/[\s\S]*)?)$", errors.not_found, name="not_found"),
]

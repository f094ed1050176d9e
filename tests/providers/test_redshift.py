"""Redshift provider: the real redshift_connector through the wire-protocol proxy to PostgreSQL.

What Redshift does like PostgreSQL (check, errors, windows, types, streaming) is in test_pg_family.py; this
module holds what is Redshift's own: its type names, SUPER, IAM sign-in and its settings.
"""

from __future__ import annotations

from typing import Any

import pytest

from feeds.warehouses.base import Column, FieldType
from feeds.warehouses.pgfamily import clean_rows
from feeds.warehouses.redshift import TEXT_JSON, RedshiftWarehouse, type_name
from tests.standins.redshift import RedshiftDatabase


def config(rs: RedshiftDatabase, **overrides: Any) -> dict[str, Any]:
    return rs.config(**overrides)


def run_sql(rs: RedshiftDatabase, *statements: str) -> None:
    """Run setup SQL as the test role (it owns the database)."""
    import psycopg

    db = rs.db
    with psycopg.connect(
        host="127.0.0.1", port=db.cluster.port, dbname=db.database, user=db.user, password=db.password
    ) as conn:
        for statement in statements:
            conn.execute(statement)


# --- configuration -------------------------------------------------------------------------


def field(name: str) -> Any:
    return next(f for f in RedshiftWarehouse.fields if f.name == name)


def test_it_validates_fields_with_messages_that_say_how_to_fix_them() -> None:
    with pytest.raises(ValueError, match="Port must be a number between 1 and 65535"):
        field("port").validate("99999")
    with pytest.raises(ValueError, match="Host must be a bare host name"):
        field("host").validate("https://db.example.com/")
    with pytest.raises(ValueError, match="Database is required"):
        field("database").validate(" ")
    field("host").validate("my-cluster.abc123xyz.eu-west-1.redshift.amazonaws.com")
    assert field("password").secret is True
    assert field("port").default == 5439 and field("allow_unencrypted").default is False
    with pytest.raises(ValueError, match=r"AWS IAM role ARN must look like arn:aws:iam::123456789012:role/"):
        field("aws_iam_role_arn").validate("arn:aws:iam::1234:role/reader")
    with pytest.raises(ValueError, match="AWS IAM role ARN must look like"):
        field("aws_iam_role_arn").validate("arn:aws:iam::123456789012:user/reader")
    field("aws_iam_role_arn").validate("arn:aws:iam::123456789012:role/data/wsync-reader")
    with pytest.raises(ValueError, match="AWS region must be a region code such as eu-west-1"):
        field("region").validate("Ireland")
    with pytest.raises(ValueError, match="Cluster identifier must be"):
        field("cluster_identifier").validate("My Cluster")


def test_it_validates_the_sign_in_method_as_a_whole() -> None:
    assert RedshiftWarehouse.validate_config({"auth_method": "password", "password": "x"}) == {}
    missing = RedshiftWarehouse.validate_config({"auth_method": "password"})
    assert "Password is required" in missing["password"]
    assert "auth_method" in RedshiftWarehouse.validate_config({"auth_method": "kerberos"})
    iam = RedshiftWarehouse.validate_config({"auth_method": "iam", "host": "10.0.0.5"})
    assert "AWS IAM role ARN is required for IAM sign-in" in iam["aws_iam_role_arn"]
    assert "Cluster identifier is required for IAM sign-in" in iam["cluster_identifier"]
    assert "AWS region is required for IAM sign-in" in iam["region"]
    from_host = {
        "auth_method": "iam",
        "host": "analytics.abc123xyz.eu-west-1.redshift.amazonaws.com",
        "aws_iam_role_arn": "arn:aws:iam::123456789012:role/wsync-reader",
    }
    assert RedshiftWarehouse.validate_config(from_host) == {}


def test_it_refuses_iam_sign_in_with_missing_settings_before_calling_aws() -> None:
    result = RedshiftWarehouse(
        {"auth_method": "iam", "host": "10.0.0.5", "user": "u", "database": "d"}
    ).check()
    assert not result.ok and result.permanent
    assert result.field == "aws_iam_role_arn"


def test_it_fills_the_prepare_steps_with_the_typed_names() -> None:
    typed = {"user": "wsync_reader", "database": "crm", "schema": "marts"}
    code = "\n".join(s.code for s in RedshiftWarehouse.prepare_steps(typed))
    assert 'CREATE USER "wsync_reader" PASSWORD' in code
    assert 'GRANT USAGE ON SCHEMA "marts" TO "wsync_reader"' in code
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA "marts" TO "wsync_reader"' in code
    assert 'ALTER DEFAULT PRIVILEGES IN SCHEMA "marts" GRANT SELECT ON TABLES TO "wsync_reader"' in code
    assert "GRANT CONNECT" not in code  # Redshift has no CONNECT privilege
    iam = {**typed, "auth_method": "iam", "aws_iam_role_arn": "arn:aws:iam::123456789012:role/wsync-reader"}
    iam |= {"cluster_identifier": "analytics", "region": "eu-west-1"}
    policy = RedshiftWarehouse.prepare_steps(iam)[-1]
    assert "arn:aws:redshift:eu-west-1:123456789012:dbuser:analytics/wsync_reader" in policy.code
    assert "arn:aws:iam::123456789012:role/wsync-reader" in policy.title
    empty = "\n".join(s.code for s in RedshiftWarehouse.prepare_steps({}))
    assert '"<user>"' in empty and 'GRANT USAGE ON SCHEMA "public"' in empty  # the field's default


def test_it_decodes_super_values_that_arrive_as_json_text() -> None:
    # PostgreSQL has no SUPER type, so the proxy cannot produce OID 4000; this checks our half.
    assert type_name(4000) == "super" and type_name(1007) == "integer[]"
    columns = [Column("payload", FieldType.JSON, "super")]
    assert clean_rows(columns, [['{"a": [1, 2]}'], ['"text"'], [None]], TEXT_JSON) == [
        ({"a": [1, 2]},),
        ("text",),
        (None,),
    ]


# --- IAM sign-in -----------------------------------------------------------------------------

ARN = "arn:aws:iam::123456789012:role/wsync-reader"
ROLE_KEYS = {"AccessKeyId": "ASIAEXAMPLEKEY", "SecretAccessKey": "s3cr3t", "SessionToken": "t0ken"}
CLUSTER_ENDPOINT = "analytics.abc123xyz.eu-west-1.redshift.amazonaws.com"


def iam_config(**overrides: Any) -> dict[str, Any]:
    base = {
        "auth_method": "iam",
        "host": CLUSTER_ENDPOINT,
        "port": 5439,
        "database": "crm",
        "user": "wsync_reader",
        "aws_iam_role_arn": ARN,
    }
    return {**base, **overrides}


def test_it_hands_the_connector_iam_options_for_a_valid_config() -> None:
    warehouse = RedshiftWarehouse(iam_config())
    asked: list[tuple[str, str | None]] = []
    warehouse.assume_role = lambda arn, region: asked.append((arn, region)) or ROLE_KEYS
    kwargs = warehouse._connect_kwargs(CLUSTER_ENDPOINT, 30)
    assert asked == [(ARN, "eu-west-1")]  # the regional STS endpoint of the cluster
    assert kwargs == {
        "host": CLUSTER_ENDPOINT,
        "port": 5439,
        "database": "crm",
        "ssl": True,
        "timeout": 30,
        "application_name": "wsync",
        "iam": True,
        "db_user": "wsync_reader",
        "user": "",
        "password": "",
        "auto_create": False,
        "cluster_identifier": "analytics",
        "region": "eu-west-1",
        "access_key_id": "ASIAEXAMPLEKEY",
        "secret_access_key": "s3cr3t",
        "session_token": "t0ken",
    }


def test_it_prefers_the_typed_cluster_and_region_over_the_host() -> None:
    config = iam_config(
        host="redshift.internal.example.com", cluster_identifier="prod-dwh", region="us-east-2"
    )
    warehouse = RedshiftWarehouse(config)
    warehouse.assume_role = lambda arn, region: ROLE_KEYS
    kwargs = warehouse._connect_kwargs(config["host"], 30)
    assert (kwargs["cluster_identifier"], kwargs["region"]) == ("prod-dwh", "us-east-2")


def _client_error(code: str, message: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": message}}, "AssumeRole")


def _aws_cases() -> list[Any]:
    from botocore import exceptions as boto

    denied = "User: arn:aws:iam::999:user/wsync is not authorized to perform: sts:AssumeRole"
    return [
        pytest.param(
            _client_error("AccessDenied", denied), "AWS refused access", True, "aws_iam_role_arn", id="denied"
        ),
        pytest.param(
            _client_error("Throttling", "Rate exceeded"), "AWS is busy right now", False, None, id="throttled"
        ),
        pytest.param(
            _client_error("ValidationError", "1 validation error detected"),
            "AWS did not accept the role ARN",
            True,
            "aws_iam_role_arn",
            id="bad-arn",
        ),
        pytest.param(
            _client_error("InvalidClientTokenId", "The security token included in the request is invalid"),
            "AWS did not accept wsync's own AWS credentials",
            True,
            None,
            id="wsync-keys",
        ),
        pytest.param(
            _client_error("RegionDisabledException", "STS is not activated in this region"),
            "AWS sign-in (STS) is turned off for this region",
            True,
            "region",
            id="region-off",
        ),
        pytest.param(
            boto.EndpointConnectionError(endpoint_url="https://sts.eu-west-1.amazonaws.com"),
            "wsync could not reach AWS",
            False,
            None,
            id="network",
        ),
        pytest.param(
            boto.ReadTimeoutError(endpoint_url="https://sts.eu-west-1.amazonaws.com"),
            "wsync could not reach AWS",
            False,
            None,
            id="read-timeout",
        ),
        pytest.param(
            boto.NoCredentialsError(), "wsync has no AWS credentials", True, None, id="no-credentials"
        ),
        pytest.param(
            _client_error("SomethingNew", "raw AWS text"),
            "AWS sign-in failed for a reason",
            False,
            None,
            id="unknown",
        ),
    ]


@pytest.mark.parametrize(("error", "says", "permanent", "field"), _aws_cases())
def test_it_explains_aws_sign_in_errors_in_plain_words(
    error: Exception, says: str, permanent: bool, field: str | None
) -> None:
    warehouse = RedshiftWarehouse(iam_config())

    def refuse(arn: str, region: str | None) -> Any:
        raise error

    warehouse.assume_role = refuse
    result = warehouse.check()
    assert (result.ok, result.permanent, result.field) == (False, permanent, field)
    assert result.message.startswith(says)
    assert str(error) not in result.message  # never botocore's own text


def test_it_maps_get_cluster_credentials_errors_too() -> None:
    from feeds.warehouses.redshift import aws_error

    error = aws_error(_client_error("ClusterNotFound", "Cluster analytics not found."))
    assert (error.permanent, error.field) == (True, "cluster_identifier")
    assert error.message.startswith("AWS has no Redshift cluster with this identifier")

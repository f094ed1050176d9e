"""Amazon Redshift provider (redshift_connector): DECLARE/FETCH cursors in read-only transactions.

redshift_connector's plain `execute` buffers the whole result and `fetchmany` only slices it,
so reads declare a server-side cursor and FETCH FORWARD one page at a time. The provider's own
SQL stays within what both Redshift and PostgreSQL accept (the tests run through PostgreSQL).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

from feeds.warehouses.base import (
    ALLOW_UNENCRYPTED,
    POSTGRES_ITERATOR_TYPES,
    Column,
    ConfigField,
    Page,
    PrepareStep,
    ReadWindow,
    WarehouseError,
    WirePage,
    wire_digests,
)
from feeds.warehouses.outbound import guard_host, guard_peer
from feeds.warehouses.pgfamily import (
    allow_unencrypted_field,
    bind_window,
    clean_rows,
    explain,
    field_type,
    grant_steps,
    parse_model,
    schema_field,
    unencrypted_allowed,
    valid_host,
    valid_name,
    valid_port,
)
from feeds.warehouses.redshiftwire import TEXT_JSON, raw_rows, row_decoder
from feeds.warehouses.sqlwarehouse import SqlWarehouse

ARN_FORMAT = "arn:aws:iam::123456789012:role/wsync-reader"
ARN_PATTERN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
CLUSTER_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
# my-cluster.abc123xyz.eu-west-1.redshift.amazonaws.com names both the cluster and its region.
CLUSTER_HOST = re.compile(
    r"^(?P<cluster>[a-z][a-z0-9-]*)\.[a-z0-9]+\.(?P<region>[a-z0-9-]+)\.redshift\.amazonaws\.com$"
)
IAM_LOCATION = (
    ("cluster_identifier", "Cluster identifier", "analytics-prod"),
    ("region", "AWS region", "eu-west-1"),
)
AUTH_METHODS = (("password", "User name and password"), ("iam", "AWS IAM (temporary credentials)"))

# Type names for the OIDs Redshift reports; others fall back to redshift_connector's names.
TYPE_NAMES = {
    20: "bigint",
    21: "smallint",
    23: "integer",
    16: "boolean",
    700: "real",
    701: "double precision",
    1700: "numeric",
    1042: "char",
    1043: "varchar",
    25: "text",
    1082: "date",
    1083: "time",
    1266: "timetz",
    1114: "timestamp",
    1184: "timestamptz",
    114: "json",
    3802: "jsonb",
    4000: "super",
    6551: "varbyte",
    17: "bytea",
    3000: "geometry",
    3001: "geography",
    2950: "uuid",
}
CURSOR = "wsync_read"
log = logging.getLogger(__name__)
READ_SOCKET_TIMEOUT = 3600  # seconds without a byte before a read gives up (long FETCHes are fine)


def type_name(oid: int) -> str:
    if oid in TYPE_NAMES:
        return TYPE_NAMES[oid]
    from redshift_connector.utils.oids import RedshiftOID

    try:
        name = RedshiftOID(oid).name.lower()
    except ValueError:
        return f"oid {oid}"
    return name[: -len("_array")] + "[]" if name.endswith("_array") else name


def valid_arn(value: Any) -> None:
    if value and not ARN_PATTERN.match(str(value).strip()):
        raise ValueError(
            f"AWS IAM role ARN must look like {ARN_FORMAT}: “arn:aws:iam::”, your 12-digit AWS "
            "account number, then “:role/” and the role name (copy it from the IAM console)."
        )


def valid_region(value: Any) -> None:
    if value and not REGION_PATTERN.match(str(value).strip()):
        raise ValueError("AWS region must be a region code such as eu-west-1 or us-east-2.")


def valid_cluster(value: Any) -> None:
    if value and not CLUSTER_PATTERN.match(str(value).strip()):
        raise ValueError(
            "Cluster identifier must be the cluster's name in lower case letters, digits and hyphens, "
            "e.g. analytics-prod (the first part of the cluster's endpoint)."
        )


def _set_socket_timeout(conn: Any, seconds: int) -> None:
    """Give reads a longer socket timeout than the connect got (a FETCH may wait on a big sort).

    redshift_connector keeps its connect-time timeout on the socket for the whole session and
    has no public setter, so this reaches for the socket it keeps.
    """
    sock = getattr(conn, "_usock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _error_parts(exc: BaseException) -> tuple[str | None, str]:
    """redshift_connector puts the server's ErrorResponse (a dict) in args[0]; else plain args."""
    first = exc.args[0] if exc.args else ""
    if isinstance(first, dict):
        return first.get("C"), str(first.get("M", ""))
    return None, " ".join(str(a) for a in exc.args) or type(exc).__name__


# --- IAM sign-in ------------------------------------------------------------------------------


def iam_location(config: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Return (cluster identifier, region): as typed, else read from a cluster endpoint host."""
    derived = CLUSTER_HOST.match(str(config.get("host") or "").strip().lower())
    cluster = str(config.get("cluster_identifier") or "").strip() or (derived["cluster"] if derived else None)
    region = str(config.get("region") or "").strip() or (derived["region"] if derived else None)
    return cluster, region


def sts_assume_role(role_arn: str, region: str | None) -> Mapping[str, Any]:
    """Return the role's temporary AWS credentials (AccessKeyId, ...); raises botocore's errors."""
    import boto3  # a dependency of redshift_connector

    client = boto3.client("sts", region_name=region)  # the regional STS endpoint, as AWS advises
    return client.assume_role(RoleArn=role_arn, RoleSessionName="wsync")["Credentials"]


def iam_kwargs(config: Mapping[str, Any], credentials: Mapping[str, Any]) -> dict[str, Any]:
    """Return redshift_connector's IAM options: it calls GetClusterCredentials with the role's keys."""
    cluster, region = iam_location(config)
    return {
        "iam": True,
        "db_user": config.get("user"),
        "user": "",
        "password": "",
        "auto_create": False,
        "cluster_identifier": cluster,
        "region": region,
        "access_key_id": credentials["AccessKeyId"],
        "secret_access_key": credentials["SecretAccessKey"],
        "session_token": credentials["SessionToken"],
    }


AwsHint = tuple[frozenset[str], str, bool, str | None]
_RETRY = "wsync will try again."
# (AWS error codes, plain message, permanent, field). Codes from STS AssumeRole and Redshift
# GetClusterCredentials; their server texts are for developers, so they are logged, not shown.
_AWS_CODES: tuple[AwsHint, ...] = (
    (
        frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}),
        "AWS refused access. Check the role ARN, that the role's trust relationship lets wsync assume "
        "it, and that its policy allows redshift:GetClusterCredentials (see “Prepare your warehouse”).",
        True,
        "aws_iam_role_arn",
    ),
    (
        frozenset({"ValidationError", "InvalidParameterValue", "MalformedPolicyDocument"}),
        "AWS did not accept the role ARN. Copy it again from the IAM console.",
        True,
        "aws_iam_role_arn",
    ),
    (
        frozenset({"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch"}),
        "AWS did not accept wsync's own AWS credentials. Ask an administrator to check them.",
        True,
        None,
    ),
    (
        frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"}),
        f"wsync's AWS credentials had just expired. {_RETRY}",
        False,
        None,
    ),
    (
        frozenset({"RegionDisabledException"}),
        "AWS sign-in (STS) is turned off for this region in your AWS account. An AWS admin can turn it "
        "on in IAM → Account settings.",
        True,
        "region",
    ),
    (
        frozenset({"ClusterNotFound", "ClusterNotFoundFault"}),
        "AWS has no Redshift cluster with this identifier in this region. Check the cluster identifier "
        "and AWS region.",
        True,
        "cluster_identifier",
    ),
    (
        frozenset(
            {
                "Throttling",
                "ThrottlingException",
                "RequestLimitExceeded",
                "TooManyRequestsException",
                "ServiceUnavailable",
                "ServiceUnavailableException",
                "InternalFailure",
                "InternalError",
                "RequestTimeout",
                "RequestTimeoutException",
            }
        ),
        f"AWS is busy right now. {_RETRY}",
        False,
        None,
    ),
)
AWS_UNREACHABLE = f"wsync could not reach AWS to sign in. {_RETRY}"
AWS_NO_CREDENTIALS = (
    "wsync has no AWS credentials of its own to assume the role with. An administrator must give the "
    "wsync server an AWS identity (environment variables, a profile or an instance role)."
)


def is_aws_error(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError)


def aws_error(exc: BaseException) -> WarehouseError:
    """Turn a botocore error into plain words, permanent or retryable; never AWS's raw text."""
    from botocore import exceptions as boto

    if isinstance(exc, WarehouseError):
        return exc
    if isinstance(exc, boto.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        hit = next((h for h in _AWS_CODES if code in h[0]), None)
        if hit is not None:
            return WarehouseError(hit[1], permanent=hit[2], field=hit[3])
    elif isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return WarehouseError(AWS_NO_CREDENTIALS, permanent=True)
    elif isinstance(exc, boto.ConnectionError | boto.HTTPClientError):
        return WarehouseError(AWS_UNREACHABLE, permanent=False)
    log.warning("AWS error not mapped (%s): %s", type(exc).__name__, str(exc)[:300])
    return WarehouseError(
        "AWS sign-in failed for a reason wsync does not know. Try again; if it keeps happening, ask an "
        "administrator to look at the wsync log.",
        permanent=False,
    )


class RedshiftWarehouse(SqlWarehouse):
    kind: ClassVar[str] = "redshift"
    dialect: ClassVar[str] = "redshift"
    has_sql: ClassVar[bool] = True
    iterator_types: ClassVar[tuple[str, ...]] = POSTGRES_ITERATOR_TYPES
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField(
            "host",
            "Host",
            placeholder="my-cluster.abc123xyz.eu-west-1.redshift.amazonaws.com",
            help_text="The cluster or workgroup endpoint, without the port and database.",
            validate=valid_host,
            binds_secrets=True,
        ),
        ConfigField("port", "Port", kind="integer", default=5439, validate=valid_port, binds_secrets=True),
        ConfigField("database", "Database", placeholder="dev", validate=valid_name("Database")),
        schema_field(),
        ConfigField("user", "User", validate=valid_name("User"), binds_secrets=True),
        ConfigField("auth_method", "Sign in with", kind="choice", choices=AUTH_METHODS, default="password"),
        ConfigField("password", "Password", kind="password", required=False, secret=True),
        ConfigField(
            "aws_iam_role_arn",
            "AWS IAM role ARN",
            required=False,
            placeholder=ARN_FORMAT,
            help_text="For IAM sign-in: the role wsync assumes to get temporary database credentials.",
            validate=valid_arn,
        ),
        ConfigField("cluster_identifier", "Cluster identifier", required=False, validate=valid_cluster),
        ConfigField("region", "AWS region", required=False, placeholder="eu-west-1", validate=valid_region),
        allow_unencrypted_field(),
    )

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        if self.config.get("ssl") is False and ALLOW_UNENCRYPTED not in self.config:
            # Saved by an older wsync whose "Use SSL" box was cleared: that was the same explicit opt-out.
            self.config[ALLOW_UNENCRYPTED] = True
        # The one seam for IAM sign-in: the AWS STS call (tests give it canned credentials).
        self.assume_role: Callable[[str, str | None], Mapping[str, Any]] = sts_assume_role

    # --- configuration -----------------------------------------------------------------

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        method = config.get("auth_method") or "password"
        if method == "password":
            if not config.get("password"):
                return {"password": "Password is required when signing in with a user name and password."}
            return {}
        if method != "iam":
            return {"auth_method": "Sign in with must be “password” or “iam”."}
        return cls._iam_problems(config)

    @classmethod
    def _iam_problems(cls, config: Mapping[str, Any]) -> dict[str, str]:
        problems: dict[str, str] = {}
        if not config.get("aws_iam_role_arn"):
            problems["aws_iam_role_arn"] = f"AWS IAM role ARN is required for IAM sign-in, e.g. {ARN_FORMAT}."
        derived = CLUSTER_HOST.match(str(config.get("host") or "").strip().lower())
        for name, label, example in IAM_LOCATION:
            if not config.get(name) and not derived:
                problems[name] = (
                    f"{label} is required for IAM sign-in when the host is not a *.redshift.amazonaws.com "
                    f"cluster endpoint, e.g. {example}."
                )
        return problems

    @classmethod
    def prepare_steps(cls, config: Mapping[str, Any]) -> list[PrepareStep]:
        create = "CREATE USER {user} PASSWORD '<a long random password>';"
        steps = grant_steps(config, create_user=create, connect=False)
        steps[0] = PrepareStep(
            steps[0].title,
            steps[0].code,
            note="Redshift passwords need 8–64 characters with an upper case letter, a lower case "
            "letter and a digit. With IAM sign-in use PASSWORD DISABLE instead.",
        )
        if (config.get("auth_method") or "password") == "iam":
            steps.append(cls._iam_step(config))
        return steps

    @classmethod
    def _iam_step(cls, config: Mapping[str, Any]) -> PrepareStep:
        arn = config.get("aws_iam_role_arn") or ARN_FORMAT
        account = arn.split(":")[4] if arn.count(":") >= 5 else "<account>"
        region = config.get("region") or "<region>"
        cluster = config.get("cluster_identifier") or "<cluster>"
        user = config.get("user") or "<user>"
        resource = f"arn:aws:redshift:{region}:{account}"
        policy = (
            '{\n  "Version": "2012-10-17",\n  "Statement": [{\n    "Effect": "Allow",\n'
            '    "Action": "redshift:GetClusterCredentials",\n    "Resource": [\n'
            f'      "{resource}:dbuser:{cluster}/{user}",\n'
            f'      "{resource}:dbname:{cluster}/{config.get("database") or "<database>"}"\n'
            "    ]\n  }]\n}"
        )
        return PrepareStep(
            f"Allow the role {arn} to sign in as {user}",
            policy,
            language="json",
            note="Attach this policy to the role in the AWS IAM console, and let wsync's AWS "
            "identity assume the role (trust relationship).",
        )

    # --- connections -------------------------------------------------------------------

    def _connect(self, *, timeout: float = 30) -> Any:
        import redshift_connector

        host = str(self.config.get("host") or "").strip()
        guard_host(host, field="host")
        kwargs = self._connect_kwargs(host, timeout)
        try:
            conn = redshift_connector.connect(**kwargs)
        except (redshift_connector.Error, OSError) as exc:
            raise self._explain(exc) from None
        except Exception as exc:
            # With IAM the connector calls GetClusterCredentials itself and lets botocore's errors out.
            if not is_aws_error(exc):
                raise
            raise aws_error(exc) from None
        try:
            # The connector resolves the name itself (and IAM sign-in may pick the endpoint), so the address
            # it reached is checked again: a name that changed its answer since the guard is caught before
            # any query. The login itself went over TLS verified against Redshift's CA unless opted out.
            guard_peer(conn._usock.getpeername()[0], host)
        except WarehouseError:
            conn.close()
            raise
        conn.autocommit = True  # we open our own BEGIN READ ONLY transactions
        return conn

    def _connect_kwargs(self, host: str, timeout: float) -> dict[str, Any]:
        c = self.config
        kwargs: dict[str, Any] = {
            "host": host,
            "port": int(c.get("port") or 5439),
            "database": c.get("database"),
            # With ssl the connector verifies the server against Redshift's CA bundle (verify-ca).
            "ssl": not unencrypted_allowed(c),
            "timeout": timeout,
            "application_name": "wsync",
        }
        if (c.get("auth_method") or "password") == "iam":
            return {**kwargs, **self._iam_kwargs()}
        return {**kwargs, "user": c.get("user"), "password": c.get("password") or ""}

    def _iam_kwargs(self) -> dict[str, Any]:
        """Assume the configured role, then let the connector fetch temporary database credentials."""
        problems = self._iam_problems(self.config)
        if problems:
            field, message = next(iter(problems.items()))
            raise WarehouseError(message, permanent=True, field=field)
        _, region = iam_location(self.config)
        try:
            credentials = self.assume_role(str(self.config["aws_iam_role_arn"]).strip(), region)
        except Exception as exc:  # botocore raises many kinds; aws_error sorts them
            raise aws_error(exc) from None
        return iam_kwargs(self.config, credentials)

    def _explain(self, exc: BaseException) -> WarehouseError:
        sqlstate, text = _error_parts(exc)
        return explain(sqlstate, text, self.config, provider="redshift")

    # --- the primitives SqlWarehouse derives check, describe and preview from ----------------

    def _round_trip(self, seconds: float) -> str:
        self._in_transaction(lambda cur: cur.execute("SELECT 1").fetchall(), timeout=seconds)
        return "Connected to Amazon Redshift."

    def _columns(self, cur: Any, sql: str) -> list[Column]:
        cur.execute(parse_model(sql, self.dialect, limit=0))
        columns = []
        for name, oid, *_ in cur.description or ():
            kind = type_name(oid)
            columns.append(Column(name, field_type(kind), kind))
        return columns

    def _describe(self, sql: str, seconds: float) -> list[Column]:
        return self._in_transaction(lambda cur: self._columns(cur, sql), timeout=seconds)

    def _fetch(self, sql: str, rows: int, seconds: float) -> tuple[tuple[Column, ...], list[tuple[Any, ...]]]:
        def run(cur: Any) -> tuple[tuple[Column, ...], list[tuple[Any, ...]]]:
            cur.execute(f"SET statement_timeout TO {int(seconds * 1000)}")
            columns = tuple(self._columns(cur, sql))
            cur.execute(parse_model(sql, self.dialect, limit=rows))
            return columns, clean_rows(columns, cur.fetchall(), TEXT_JSON)

        # The socket waits a second longer than the statement, so the server's own "took too long" comes first.
        return self._in_transaction(run, timeout=seconds + 1)

    def _in_transaction(self, work: Callable[[Any], Any], *, timeout: float = 30) -> Any:
        import redshift_connector

        conn = self._connect(timeout=timeout)
        try:
            cur = conn.cursor()
            cur.execute("BEGIN READ ONLY")
            result = work(cur)
            cur.execute("ROLLBACK")
            return result
        except (redshift_connector.Error, OSError) as exc:
            raise self._explain(exc) from None
        finally:
            conn.close()

    def read(self, sql: str, window: ReadWindow | None, page_size: int) -> Iterator[Page]:
        import redshift_connector

        conn = self._connect()
        try:
            _set_socket_timeout(conn, READ_SOCKET_TIMEOUT)
            cur = conn.cursor()
            cur.execute("BEGIN READ ONLY")
            columns = tuple(self._columns(cur, sql))
            query, params = bind_window(sql, self.dialect, window, columns)
            cur.execute(f"DECLARE {CURSOR} CURSOR FOR {query}", params)
            while True:
                with raw_rows(conn):
                    cur.execute(f"FETCH FORWARD {int(page_size)} FROM {CURSOR}")
                messages = list(cur.fetchall())
                if not messages:
                    break
                # Each row stays the DataRow message the server sent: digested as is, decoded on demand.
                decode = row_decoder(conn, cur.truncated_row_desc(), columns)
                yield WirePage(columns, messages, decode, wire_digests(messages))
            cur.execute(f"CLOSE {CURSOR}")
            cur.execute("ROLLBACK")
        except (redshift_connector.Error, OSError) as exc:
            raise self._explain(exc) from None
        finally:
            conn.close()

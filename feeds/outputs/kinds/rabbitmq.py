"""RabbitMQ: publish each batch to an exchange with a routing key, publisher confirms on.

The message is the batch's JSON array of mParticle batches, persistent, with `message_id` and an
`Idempotency-Key` header set to the batch id (a consumer de-duplicates on it after a redelivery). The
publish is mandatory: a message no queue takes is refused, not silently dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, ClassVar

from feeds.outputs.kinds.base import DELIVERED, Answer, Limits, Outcome
from feeds.warehouses.base import ConfigField, WarehouseError
from feeds.warehouses.outbound import guard_host


def _port(value: Any) -> None:
    if not 1 <= int(value) <= 65535:
        raise ValueError("Port must be between 1 and 65535.")


class RabbitMQ:
    kind: ClassVar[str] = "rabbitmq"
    label: ClassVar[str] = "RabbitMQ"
    help: ClassVar[str] = "Publishes every batch to a RabbitMQ exchange, with publisher confirms."
    removals: ClassVar[bool] = True
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField("host", "Host", placeholder="rabbitmq.example.com", binds_secrets=True),
        ConfigField("port", "Port", kind="integer", default=5672, validate=_port, binds_secrets=True),
        ConfigField("virtual_host", "Virtual host", default="/", required=False, binds_secrets=True),
        ConfigField("username", "User", binds_secrets=True),
        ConfigField("password", "Password", kind="password", secret=True),
        ConfigField(
            "exchange", "Exchange", required=False, help_text="Leave empty for the default exchange."
        ),
        ConfigField("routing_key", "Routing key", help_text="With the default exchange: the queue's name."),
        ConfigField(
            "batch_size",
            "Batch size",
            kind="integer",
            default=1000,
            help_text="How many profiles (and their events) one message carries.",
        ),
    )

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> None:
        self.config = dict(config)
        self.password = str(secrets.get("password") or "")
        self.channel: Any = None
        self.connection: Any = None

    @classmethod
    def limits(cls, config: Mapping[str, Any]) -> Limits:
        return Limits(batches=int(config.get("batch_size") or 1000))

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        return {}

    def _open(self) -> Answer | None:
        import pika  # type: ignore[import-untyped,unused-ignore]
        from pika import exceptions

        host = str(self.config.get("host") or "")
        try:
            address = guard_host(host, field="host") or host
        except WarehouseError as error:
            return Answer(Outcome.PERMANENT, error.message)
        parameters = pika.ConnectionParameters(
            host=address,
            port=int(self.config.get("port") or 5672),
            virtual_host=str(self.config.get("virtual_host") or "/"),
            credentials=pika.PlainCredentials(str(self.config.get("username") or ""), self.password),
            connection_attempts=1,
            socket_timeout=10,
            blocked_connection_timeout=30,
        )
        try:
            self.connection = pika.BlockingConnection(parameters)
        except (exceptions.ProbableAuthenticationError, exceptions.ProbableAccessDeniedError) as error:
            return Answer(Outcome.UNAUTHORIZED, f"RabbitMQ refused the user or password ({error}).")
        except exceptions.AMQPError as error:
            return Answer(
                Outcome.RETRY, f"wsync could not reach RabbitMQ at {host} ({type(error).__name__})."
            )
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        return None

    def send(self, batch_id: str, payload: bytes) -> Answer:
        import pika
        from pika import exceptions

        if self.channel is None or not self.channel.is_open:
            refused = self._open()
            if refused is not None:
                return refused
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=2,
            message_id=batch_id,
            headers={"Idempotency-Key": batch_id},
        )
        try:
            self.channel.basic_publish(
                exchange=str(self.config.get("exchange") or ""),
                routing_key=str(self.config.get("routing_key") or ""),
                body=payload,
                properties=properties,
                mandatory=True,
            )
        except exceptions.UnroutableError:
            return Answer(Outcome.PERMANENT, "No queue is bound to this exchange and routing key.")
        except exceptions.NackError:
            return Answer(Outcome.RETRY, "RabbitMQ did not confirm the message (nack).")
        except exceptions.ChannelClosedByBroker as error:
            self.channel = None
            return Answer(Outcome.PERMANENT, f"RabbitMQ refused the message: {error.reply_text}.")
        except exceptions.AMQPError as error:
            self.close()
            return Answer(Outcome.RETRY, f"The connection to RabbitMQ broke ({type(error).__name__}).")
        return DELIVERED

    def close(self) -> None:
        if self.connection is not None and self.connection.is_open:
            # Closing a broken connection may fail; it is gone either way.
            with contextlib.suppress(Exception):
                self.connection.close()
        self.connection = self.channel = None

"""mParticle: the Events API's `/v2/bulkevents` (server-to-server key and secret, the pod's base URL).

Each mParticle batch carries `source_request_id` = the outbox batch id and its position, so mParticle
drops a batch it has already taken when a redelivery after a crash sends it again. Documented limits
(docs/outputs.md): at most 100 batches and 256 KB per bulk request; 429 when over the rate limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from feeds.outputs.kinds import http
from feeds.outputs.kinds.base import Answer, Limits
from feeds.warehouses.base import ConfigField

BATCHES_PER_REQUEST = 100
REQUEST_BYTES = 256 * 1024


class MParticle:
    kind: ClassVar[str] = "mparticle"
    label: ClassVar[str] = "mParticle"
    help: ClassVar[str] = (
        "Feeds an mParticle workspace through its Events API, with a server-to-server input's key."
    )
    removals: ClassVar[bool] = True
    fields: ClassVar[tuple[ConfigField, ...]] = (
        ConfigField(
            "pod_url",
            "Pod base URL",
            default="https://s2s.mparticle.com",
            help_text="Your mParticle pod's Events API address, e.g. https://s2s.us2.mparticle.com.",
            binds_secrets=True,
        ),
        ConfigField(
            "api_key", "Server-to-server key", help_text="From Setup › Inputs › Custom Feed or Server."
        ),
        ConfigField("api_secret", "Server-to-server secret", kind="password", secret=True),
    )

    def __init__(self, config: Mapping[str, Any], secrets: Mapping[str, Any]) -> None:
        self.url = str(config.get("pod_url") or "https://s2s.mparticle.com").rstrip("/") + "/v2/bulkevents"
        self.auth = (str(config.get("api_key") or ""), str(secrets.get("api_secret") or ""))
        self.client = http.session("pod_url")

    @classmethod
    def limits(cls, config: Mapping[str, Any]) -> Limits:
        return Limits(batches=BATCHES_PER_REQUEST, bytes=REQUEST_BYTES - 1024)

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, str]:
        url = str(config.get("pod_url") or "")
        if url and not url.startswith(("https://", "http://")):
            return {"pod_url": "Start the address with https://."}
        return {}

    def send(self, batch_id: str, payload: bytes) -> Answer:
        batches = orjson.loads(payload)
        for i, batch in enumerate(batches):
            batch["source_request_id"] = f"{batch_id}-{i}"
        body = orjson.dumps(batches)
        headers = {"Content-Type": "application/json"}
        return http.post(self.client, self.url, field="pod_url", data=body, headers=headers, auth=self.auth)

    def close(self) -> None:
        self.client.close()

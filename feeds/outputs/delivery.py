"""The delivery worker: drains each output's outbox in order, in batches, with one retry and fault policy.

- One worker drains an output at a time (a lease on the output, taken over when it expires or its
  holder's process is gone); each connection's batches go in sequence order, the oldest pending first.
- 429 waits (Retry-After when given) and does not count as a failure; 5xx, timeouts and refused
  connections count, with exponential backoff and jitter (Retry-After when given); after
  `WSYNC_OUTPUT_RETRIES` failures the batch is dead-lettered with its reason.
- A permanent answer (400, 403, 404, 413...) dead-letters that batch with the destination's message.
- 401 faults the output: nothing more is sent, the backlog stays, until someone fixes it.
- A paused connection keeps its backlog; resuming drains it.
Time comes from a Clock, so tests drive backoff and Retry-After without waiting.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from feeds.outputs.kinds import open_destination
from feeds.outputs.kinds.base import Answer, Destination, Outcome
from feeds.outputs.models import BatchState, FeedOutput, OutboxBatch, Output, OutputState
from feeds.sync import workers

log = logging.getLogger(__name__)
LEASE_SECONDS = 60
# A live drain renews its lease once this many seconds went by: a send's longest wait (connect + read
# timeouts, 40 s by default) then still ends before the lease can be taken over.
RENEW_AFTER = 10
# Batches of one connection sent back to back before the drain looks at the output, pauses and the other
# connections again: one query a batch instead of a full round of them.
RUN_BATCHES = 50
IDLE_WAIT_SECONDS = 20  # a worker waits this long for a batch coming due; later ones wait for the tick


class Clock:
    """Wall time; tests pass one that moves only when told."""

    def now(self) -> datetime:
        return timezone.now()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


@dataclass
class Policy:
    retries: int = field(default_factory=lambda: int(getattr(settings, "WSYNC_OUTPUT_RETRIES", 8)))
    base: float = 2.0  # seconds before the first retry
    cap: float = 3600.0
    rate_wait: float = 5.0  # a 429 without Retry-After

    def backoff(self, attempts: int) -> float:
        """Return the wait before try `attempts + 1`: exponential, capped, with full jitter on its upper half."""
        ceiling = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


@dataclass
class Drained:
    """What one drain did (tests and the bench read it)."""

    delivered: int = 0
    retried: int = 0
    rate_limited: int = 0
    dead: int = 0
    faulted: bool = False


def kick(output_id: int) -> bool:
    """Queue a drain of the output unless a live worker is draining it already; return whether it queued."""
    from django_q.tasks import async_task

    holder = Output.objects.filter(pk=output_id).values_list("lease_holder", "lease_until").first()
    if (
        holder
        and holder[0]
        and holder[1]
        and holder[1] > timezone.now()
        and not workers.is_gone(holder[0].split("|")[0])
    ):
        return False
    async_task("feeds.outputs.tasks.deliver", output_id, task_name=f"deliver-output-{output_id}")
    return True


def drain(output_id: int, *, clock: Clock | None = None, policy: Policy | None = None) -> Drained:
    """Deliver the output's due batches until none is due; return what happened. Never raises for a destination."""
    clock, policy = clock or Clock(), policy or Policy()
    lease = _claim(output_id, clock)
    if lease is None:
        return Drained()
    done = Drained()
    destination: Destination | None = None
    try:
        while True:
            output = Output.objects.filter(pk=output_id).first()
            if output is None or output.state != OutputState.ACTIVE:  # deleted, or faulted
                break
            if destination is None:
                destination = open_destination(output.kind, output.config, output.secrets)
            heads, wait = _due_heads(output_id, clock.now())
            if not heads:
                if wait is None or wait > IDLE_WAIT_SECONDS:
                    break
                clock.sleep(max(wait, 0.0))
                lease.renew(clock)
                continue
            for head in heads:
                if _deliver_run(output, head, destination, lease, clock, policy, done):
                    return done
    finally:
        if destination is not None:
            destination.close()
        lease.release()
    if _due_heads(output_id, clock.now())[0]:
        kick(output_id)  # a page committed while this drain was finishing
    return done


def _deliver_run(
    output: Output,
    batch: OutboxBatch | None,
    destination: Destination,
    lease: Lease,
    clock: Clock,
    policy: Policy,
    done: Drained,
) -> bool:
    """Send a connection's head and, while each is delivered, up to RUN_BATCHES of its next batches in
    sequence order; return True when the drain must stop (faulted, or the lease went to another worker).

    The output's state, pauses and the other connections' turns are looked at again between runs, so a
    pause or a fault found elsewhere takes effect after at most one run.
    """
    for _ in range(RUN_BATCHES):
        if batch is None:
            return False
        if not lease.keep(clock):
            return True  # another worker took over (ours was presumed dead)
        answer = destination.send(batch.batch_id, batch.payload.encode())
        stop = _settle(output, batch, answer, clock, policy, done)
        if stop or not answer.delivered:
            return stop  # a batch waiting for a retry holds its line
        batch = (
            OutboxBatch.objects.filter(
                connection_id=batch.connection_id, state=BatchState.PENDING, seq__gt=batch.seq
            )
            .order_by("seq")
            .first()
        )
    return False


def _due_heads(output_id: int, now: datetime) -> tuple[list[OutboxBatch], float | None]:
    """Return each running connection's oldest pending batch that is due (a waiting head holds its line),
    and the seconds until the first waiting head comes due (None: nothing waits)."""
    heads, waits = [], []
    for connection_id in FeedOutput.objects.filter(output_id=output_id, paused=False).values_list(
        "pk", flat=True
    ):
        head = (
            OutboxBatch.objects.filter(connection_id=connection_id, state=BatchState.PENDING)
            .order_by("seq")
            .first()
        )
        if head is None:
            continue
        if head.next_attempt_at <= now:
            heads.append(head)
        else:
            waits.append((head.next_attempt_at - now).total_seconds())
    return heads, min(waits, default=None)


def _settle(
    output: Output, batch: OutboxBatch, answer: Answer, clock: Clock, policy: Policy, done: Drained
) -> bool:
    """Record the answer on the batch; return True when the output must stop (faulted)."""
    now = clock.now()
    if answer.outcome is Outcome.DELIVERED:
        with transaction.atomic():
            OutboxBatch.objects.filter(pk=batch.pk).update(
                state=BatchState.DELIVERED, delivered_at=now, last_error=""
            )
            FeedOutput.objects.filter(pk=batch.connection_id).update(
                delivered=F("delivered") + 1,
                delivered_changes=F("delivered_changes") + batch.changes,
                last_delivered_at=now,
            )
        done.delivered += 1
        return False
    if answer.outcome is Outcome.UNAUTHORIZED:
        Output.objects.filter(pk=output.pk).update(state=OutputState.FAULTED, fault=answer.message)
        OutboxBatch.objects.filter(pk=batch.pk).update(last_error=answer.message)
        done.faulted = True
        return True
    if answer.outcome is Outcome.RATE_LIMITED:
        wait = answer.retry_after if answer.retry_after is not None else policy.rate_wait
        _retry_at(batch, now + timedelta(seconds=wait), answer.message, failed=False)
        done.rate_limited += 1
        return False
    attempts = batch.attempts + 1
    if answer.outcome is Outcome.PERMANENT or attempts >= policy.retries:
        reason = answer.message
        if answer.outcome is not Outcome.PERMANENT:
            reason = f"Gave up after {attempts} tries. Last answer: {answer.message}"
        OutboxBatch.objects.filter(pk=batch.pk).update(
            state=BatchState.DEAD, attempts=attempts, last_error=reason
        )
        done.dead += 1
        return False
    wait = answer.retry_after if answer.retry_after is not None else policy.backoff(attempts)
    _retry_at(batch, now + timedelta(seconds=wait), answer.message, failed=True)
    done.retried += 1
    return False


def _retry_at(batch: OutboxBatch, when: datetime, message: str, *, failed: bool) -> None:
    OutboxBatch.objects.filter(pk=batch.pk).update(
        next_attempt_at=when, last_error=message, attempts=F("attempts") + (1 if failed else 0)
    )


@dataclass
class Lease:
    """This drain's claim on an output: renewed well before it runs out, so a send that takes its whole
    timeout still ends inside the lease, without a write before every send."""

    output_id: int
    token: str
    until: datetime

    def keep(self, clock: Clock) -> bool:
        """Renew when less than LEASE_SECONDS - RENEW_AFTER is left; return False when another took it."""
        if (self.until - clock.now()).total_seconds() > LEASE_SECONDS - RENEW_AFTER:
            return True
        return self.renew(clock)

    def renew(self, clock: Clock) -> bool:
        until = clock.now() + timedelta(seconds=LEASE_SECONDS)
        held = Output.objects.filter(pk=self.output_id, lease_holder=self.token).update(lease_until=until)
        self.until = until if held else self.until
        return bool(held)

    def release(self) -> None:
        Output.objects.filter(pk=self.output_id, lease_holder=self.token).update(
            lease_holder="", lease_until=None
        )


def _claim(output_id: int, clock: Clock) -> Lease | None:
    """Take the output's lease (free, expired, or held by a process that is gone)."""
    row = Output.objects.filter(pk=output_id).values_list("lease_holder", "lease_until").first()
    if row is None:
        return None
    holder, until = row
    now = clock.now()
    if holder and until and until > now and not workers.is_gone(holder.split("|")[0]):
        return None
    token = f"{workers.this_worker()}|{uuid.uuid4().hex[:12]}"
    expires = now + timedelta(seconds=LEASE_SECONDS)
    taken = (
        Output.objects.filter(pk=output_id, lease_holder=holder)
        .filter(Q(lease_until=until) if until else Q(lease_until__isnull=True))
        .update(lease_holder=token, lease_until=expires)
    )
    return Lease(output_id, token, expires) if taken else None

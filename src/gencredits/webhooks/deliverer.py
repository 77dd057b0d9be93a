"""The deliverer: outbox events to signed HTTP POSTs, retried with backoff.

One run (:meth:`Deliverer.run_once`): enqueue the new outbox events as deliveries
(:func:`gencredits.billing.webhook_ops.enqueue`), then attempt every delivery that is due.
An attempt is claimed first (so two deliverers, the service's background task and a
``gencredits deliver`` from cron, never post one delivery at once), signed
(:mod:`.signing`), and recorded: a 2xx answer marks it delivered and resets the endpoint's
failure count; anything else (an error status, a timeout, a refused connection) schedules
the next attempt ``backoff_base_s * 2**(attempts-1)`` later (at most ``backoff_max_s``),
until ``max_attempts`` (then ``failed``: redeliver to try again).  An endpoint whose
``disable_after`` consecutive attempts failed is disabled (enable it to resume).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import httpx

from gencredits.billing import Billing
from gencredits.billing.webhook_ops import enqueue
from gencredits.ledger.outbound import Delivery, DeliveryStatus, Endpoint, OutboundStore
from gencredits.webhooks.signing import (
    ATTEMPT_HEADER,
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    sign,
)

__all__ = ["DeliverReport", "Deliverer", "DeliveryPolicy"]


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    max_attempts: int = 8
    backoff_base_s: int = 10
    backoff_max_s: int = 3600
    disable_after: int = 20  # consecutive failed attempts of one endpoint
    timeout_s: float = 10.0
    lease_s: int = 60  # how long a claimed attempt keeps others off it
    batch: int = 100

    def backoff(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.backoff_base_s * 2 ** (attempts - 1), self.backoff_max_s))


@dataclass(frozen=True, slots=True)
class DeliverReport:
    enqueued: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "enqueued": self.enqueued,
            "delivered": self.delivered,
            "retrying": self.retrying,
            "failed": self.failed,
        }


class Deliverer:
    def __init__(
        self,
        billing: Billing,
        policy: DeliveryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.billing = billing
        self.policy = policy or DeliveryPolicy()
        self.client = client or httpx.Client(timeout=self.policy.timeout_s)
        self.outbound: OutboundStore = billing.store.outbound()

    def run_once(self) -> DeliverReport:
        """Enqueue new events, then attempt what is due (at most ``policy.batch``)."""
        now = self.billing.clock.now()
        enqueued = enqueue(self.billing.store, self.outbound, now)
        counts = {"delivered": 0, "retrying": 0, "failed": 0}
        for delivery in self.outbound.due(now, self.policy.batch):
            endpoint = self.outbound.get_endpoint(delivery.endpoint_id)
            if endpoint is None or not endpoint.active:
                continue  # kept pending: it goes out once the endpoint is enabled
            until = now + timedelta(seconds=self.policy.lease_s)
            if not self.outbound.claim(delivery, until):
                continue  # another deliverer has it
            endpoint = self.outbound.get_endpoint(delivery.endpoint_id) or endpoint
            outcome = self._attempt(endpoint, delivery, now)
            counts[outcome] += 1
        return DeliverReport(enqueued, **counts)

    def _attempt(self, endpoint: Endpoint, delivery: Delivery, now: datetime) -> str:
        attempt = delivery.attempts + 1
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(endpoint.secret, int(now.timestamp()), body),
            EVENT_ID_HEADER: delivery.event_id,
            EVENT_TYPE_HEADER: delivery.event_type,
            ATTEMPT_HEADER: str(attempt),
        }
        status: int | None = None
        error: str | None = None
        try:
            answer = self.client.post(endpoint.url, content=body, headers=headers)
            status = answer.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        if error is None:
            done = replace(delivery, status=DeliveryStatus.DELIVERED, attempts=attempt)
            self.outbound.save(replace(done, last_status=status, last_error=None, delivered_at=now))
            if endpoint.failures:
                self.outbound.update_endpoint(replace(endpoint, failures=0))
            return "delivered"
        return self._failed(endpoint, delivery, (attempt, status, error), now)

    def _failed(
        self,
        endpoint: Endpoint,
        delivery: Delivery,
        result: tuple[int, int | None, str],
        now: datetime,
    ) -> str:
        attempt, status, error = result
        give_up = attempt >= self.policy.max_attempts
        state = DeliveryStatus.FAILED if give_up else DeliveryStatus.PENDING
        later = now + self.policy.backoff(attempt)
        self.outbound.save(
            replace(
                delivery,
                status=state,
                attempts=attempt,
                next_at=later,
                last_status=status,
                last_error=error,
            )
        )
        failures = endpoint.failures + 1
        disable = failures >= self.policy.disable_after
        self.outbound.update_endpoint(
            replace(
                endpoint,
                failures=failures,
                active=not disable,
                disabled_at=now if disable else endpoint.disabled_at,
            )
        )
        return "failed" if give_up else "retrying"

    def close(self) -> None:
        self.client.close()

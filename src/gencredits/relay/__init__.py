"""The relay: the outbox published to a message broker (see :mod:`.loop`); targets:
NATS JetStream (:mod:`.jetstream`)."""

from gencredits.relay.loop import Backoff, BrokerError, Relay, RelayProgress, Target

__all__ = ["Backoff", "BrokerError", "Relay", "RelayProgress", "Target"]

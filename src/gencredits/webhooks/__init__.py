"""Outbound webhooks: signing (:mod:`.signing`) and the deliverer (:mod:`.deliverer`)."""

from gencredits.webhooks.deliverer import Deliverer, DeliverReport, DeliveryPolicy
from gencredits.webhooks.signing import SIGNATURE_HEADER, sign, verify

__all__ = ["SIGNATURE_HEADER", "DeliverReport", "Deliverer", "DeliveryPolicy", "sign", "verify"]

"""Errors of the alerting service::

    AlertingError            (base)
     └── DeliveryError       a channel could not take a notice: unreachable, refused, timed out, misconfigured

Each has a machine-readable `code`; a delivery's failure is recorded with its message
(alert_delivery_attempts.error), never raised past the dispatcher.
"""

from typing import ClassVar


class AlertingError(Exception):
    code: ClassVar[str] = "ALERTING_ERROR"


class DeliveryError(AlertingError):
    code = "DELIVERY_FAILED"

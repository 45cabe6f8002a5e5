"""Why a delivery failed, as the service records it and the API shows it::

    DestinationError            (base; never raised itself)
     └── DeliveryError          the target did not take the batch: unreachable, refused,
                                timed out, or answered other than 2xx (`status_code` then set)
"""


class DestinationError(Exception):
    """A failure of the destinations machinery the caller can report."""


class DeliveryError(DestinationError):
    """The target did not accept a batch; the message is safe to show (no secret, no full URL)."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code

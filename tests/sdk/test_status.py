"""How the sender reacts to each gRPC status: a pure decision, no server."""

import grpc
import pytest

from trackmint_sdk import _status


@pytest.mark.parametrize(
    "code",
    [
        None,
        grpc.StatusCode.OK,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.CANCELLED,
    ],
)
def test_transient_statuses_resend_with_backoff(code):
    assert _status.classify(code, ()) == _status.Decision(_status.RESEND)


def test_rate_limit_resends_after_the_servers_wait():
    decision = _status.classify(grpc.StatusCode.RESOURCE_EXHAUSTED, [("retry-after", "1.5")])
    assert (decision.action, decision.retry_after) == (_status.RESEND, 1.5)


def test_resource_exhausted_without_retry_after_drops_the_batch_as_too_large():
    decision = _status.classify(grpc.StatusCode.RESOURCE_EXHAUSTED, ())
    assert (decision.action, decision.drop_reason, decision.sequence) == (_status.DROP_BATCH, "batch_too_large", None)


def test_invalid_argument_drops_the_named_batch():
    decision = _status.classify(grpc.StatusCode.INVALID_ARGUMENT, [("trackmint-batch-sequence", b"17")])
    assert (decision.action, decision.drop_reason, decision.sequence) == (_status.DROP_BATCH, "invalid_argument", 17)


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED])
def test_refused_key_drops_everything(code):
    assert _status.classify(code, ()) == _status.Decision(_status.DROP_ALL, "unauthorized")


def test_unexpected_status_is_retried_but_flagged():
    decision = _status.classify(grpc.StatusCode.UNIMPLEMENTED, ())
    assert (decision.action, decision.expected) == (_status.RESEND, False)


def test_backoff_is_full_jitter_capped_at_the_maximum():
    assert _status.backoff_delay(0, initial=0.1, maximum=30, rng=lambda: 1.0) == pytest.approx(0.1)
    assert _status.backoff_delay(3, initial=0.1, maximum=30, rng=lambda: 0.5) == pytest.approx(0.4)
    assert _status.backoff_delay(100, initial=0.1, maximum=30, rng=lambda: 1.0) == 30
    assert _status.backoff_delay(5, initial=0.1, maximum=30, rng=lambda: 0.0) == 0

"""How long to wait before the next attempt at a batch: exponential, capped, with jitter."""

import random


def retry_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """After failed attempt number `attempt` (1-based): base·2^(attempt-1), capped, then 50 to 100 % of it.

    The jitter keeps many destinations failing at once (a receiver's outage) from retrying in lockstep.
    """
    ceiling = min(cap, base * 2 ** min(attempt - 1, 30))
    return ceiling * (rng or random).uniform(0.5, 1.0)

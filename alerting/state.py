"""A rule's state machine, as a pure function: OK -> FIRING -> RESOLVED, with cooldown.

    OK / RESOLVED --firing verdict--> FIRING            a new incident: one "fired" notice
    FIRING        --clear verdicts for cooldown--> RESOLVED   the incident ends: one "resolved" notice

A FIRING rule whose verdict clears and fires again within the cooldown stays
FIRING: a flapping series is one incident, so one notice and one resolution.
RESOLVED differs from OK only in saying that the last incident is over.
"""

import enum
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID


class State(enum.Enum):
    OK = "ok"
    FIRING = "firing"
    RESOLVED = "resolved"


class Change(enum.Enum):
    FIRED = "fired"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class RuleState:
    state: State = State.OK
    incident_id: UUID | None = None
    # When a FIRING rule's verdict was first seen clear again (None while it fires).
    clear_since: datetime | None = None


@dataclass(frozen=True)
class Step:
    state: RuleState
    # The notice this evaluation owes, if it changed the state.
    change: Change | None = None


def step(current: RuleState, firing: bool, now: datetime, cooldown: timedelta) -> Step:
    """The state after a verdict (`firing` or clear) seen at `now`."""
    if current.state is not State.FIRING:
        if firing:
            return Step(RuleState(State.FIRING, uuid.uuid4(), None), Change.FIRED)
        return Step(current)
    if firing:
        return Step(replace(current, clear_since=None))
    clear_since = current.clear_since or now
    if now - clear_since >= cooldown:
        return Step(RuleState(State.RESOLVED, current.incident_id, None), Change.RESOLVED)
    return Step(replace(current, clear_since=clear_since))

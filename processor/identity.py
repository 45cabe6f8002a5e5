"""Persons: which distinct ids are one human, and what is known of them.

Runs in the writer's transaction for the events that batch newly stored, so a
redelivered event never counts twice. Per project and batch:

1. read the person of every distinct id involved (no lock);
2. lock those persons' rows in id order (row locks: any number of them, and
   sorted, so two writers cannot deadlock each other); a person merged away
   since step 1 means the read is stale, and the transaction is retried;
3. plan in memory, in event-time order: identify links its anonymous id to the
   user's person, alias links previous_id to user_id's, unknown ids get new
   persons; two different persons are merged (identify only merges a person
   that is not identified yet, so a shared computer does not fuse two users;
   alias always does);
4. write: new persons, merges, new distinct ids, then traits and seen-times.

Two writers creating the same new distinct id at once: the second one's insert
waits for the first to commit, finds the id taken and retries the whole
transaction, which then sees the first one's person. So one human is one person
whatever the interleaving.

Traits are merged per key by event time (`trait_times`), so a late identify
never overwrites a newer value, whatever order events arrive in.
"""

import logging
import uuid
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
import orjson

from processor.facts import EventFacts
from processor.traits import mapped_traits, normalize_traits
from trackmint.v1 import event_pb2

logger = logging.getLogger(__name__)

_IDENTIFY = event_pb2.EVENT_TYPE_IDENTIFY
_ALIAS = event_pb2.EVENT_TYPE_ALIAS

PER_KEY_OBJECTS = frozenset({"consent"})
"""Object traits merged key by key (consent.email and consent.sms may come from different events)."""


LAST_SEEN_RESOLUTION_US = 60_000_000
"""A person's stored last_seen may lag their latest event by less than this."""


class IdentityRace(Exception):
    """Another writer changed the persons this transaction read; retrying the transaction resolves it."""


@dataclass
class PersonState:
    id: UUID
    is_identified: bool
    traits: dict | None  # None: not loaded (this batch sets no trait of the person)
    trait_times: dict | None
    first_seen_us: int | None
    last_seen_us: int | None
    is_new: bool = False
    merged_into: UUID | None = None
    # What to write back: only the seen times (the common case, cheap), or the traits and flags too.
    seen_changed: bool = False
    changed: bool = False

    def saw(self, time_us: int) -> None:
        if self.first_seen_us is None or time_us < self.first_seen_us:
            self.first_seen_us, self.seen_changed = time_us, True
        if self.last_seen_us is None or time_us > self.last_seen_us:
            # Written back once it moved a minute (or with other changes): an active person's row is
            # then rewritten once a minute, not by every batch. first_seen is always exact.
            if self.last_seen_us is None or time_us - self.last_seen_us >= LAST_SEEN_RESOLUTION_US:
                self.seen_changed = True
            self.last_seen_us = time_us

    def set_trait(self, key: str, value: object, time_us: int) -> None:
        """Keep the value unless the one held is from a later event."""
        held = self.trait_times.get(key)
        if held is not None and held > time_us:
            return
        self.trait_times[key] = time_us
        top, _, sub = key.partition(".")
        if sub and top in PER_KEY_OBJECTS:
            nested = self.traits.get(top)
            if not isinstance(nested, dict):
                nested = self.traits[top] = {}
            nested[sub] = value
        else:
            self.traits[key] = value
        self.changed = True

    def set_traits(self, traits: dict, time_us: int) -> None:
        for key, value in traits.items():
            if key in PER_KEY_OBJECTS and isinstance(value, dict):
                for sub, sub_value in value.items():
                    self.set_trait(f"{key}.{sub}", sub_value, time_us)
            else:
                self.set_trait(key, value, time_us)

    def absorb(self, other: "PersonState") -> None:
        """Take over what another person knew, trait by trait by event time."""
        for key, time_us in other.trait_times.items():
            top, _, sub = key.partition(".")
            nested = sub and top in PER_KEY_OBJECTS
            value = (other.traits.get(top) or {}).get(sub) if nested else other.traits.get(key)
            self.set_trait(key, value, time_us)
        for time_us in (other.first_seen_us, other.last_seen_us):
            if time_us is not None:
                self.saw(time_us)
        if other.is_identified and not self.is_identified:
            self.is_identified = self.changed = True


@dataclass
class Resolution:
    """The outcome for one project's batch: each distinct id's person, and who was merged into whom."""

    person_of: dict[str, UUID]
    merges: list[tuple[UUID, UUID]] = field(default_factory=list)
    created: int = 0
    # (distinct id, surviving person) of the stored ids the merges moved: their events change person.
    moved_ids: list[tuple[str, UUID]] = field(default_factory=list)


def _links(facts: list[EventFacts]) -> list[tuple[int, str, int, str, str]]:
    """(time, message id, type, id to link, user id) for identify and alias events, in event-time order."""
    links = []
    for fact in facts:
        if fact.type == _IDENTIFY and fact.user_id and fact.anonymous_id and fact.anonymous_id != fact.user_id:
            links.append((fact.time_us, fact.message_id, _IDENTIFY, fact.anonymous_id, fact.user_id))
        elif fact.type == _ALIAS and fact.user_id and fact.previous_id and fact.previous_id != fact.user_id:
            links.append((fact.time_us, fact.message_id, _ALIAS, fact.previous_id, fact.user_id))
    links.sort()
    return links


def _json_object(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class _Plan:
    """The in-memory bookkeeping of one project's batch, before anything is written."""

    def __init__(self, mapping: dict[str, UUID], persons: dict[UUID, PersonState]) -> None:
        self.mapping = mapping
        self.persons = persons
        self.new_ids: dict[str, UUID] = {}
        self.merges: list[tuple[UUID, UUID]] = []

    def live(self, person_id: UUID) -> UUID:
        while (merged := self.persons[person_id].merged_into) is not None:
            person_id = merged
        return person_id

    def person_of(self, distinct_id: str) -> UUID | None:
        person_id = self.mapping.get(distinct_id)
        return None if person_id is None else self.live(person_id)

    def new_person(self, identified: bool) -> UUID:
        person_id = uuid.uuid4()
        self.persons[person_id] = PersonState(person_id, identified, {}, {}, None, None, is_new=True, changed=True)
        return person_id

    def attach(self, distinct_id: str, person_id: UUID) -> None:
        self.mapping[distinct_id] = person_id
        self.new_ids[distinct_id] = person_id

    def merge(self, loser: UUID, winner: UUID) -> None:
        self.persons[winner].absorb(self.persons[loser])
        self.persons[loser].merged_into = winner
        self.merges.append((loser, winner))

    def link(self, kind: int, other_id: str, user_id: str) -> None:
        other, user = self.person_of(other_id), self.person_of(user_id)
        if other is None and user is None:
            person_id = self.new_person(identified=True)
            self.attach(other_id, person_id)
            self.attach(user_id, person_id)
        elif other is None:
            self.attach(other_id, user)
        elif user is None:
            if kind == _ALIAS or not self.persons[other].is_identified:
                self.attach(user_id, other)
                self.persons[other].is_identified = self.persons[other].changed = True
            else:  # the anonymous id is already someone else's: a new user on a shared device
                self.attach(user_id, self.new_person(identified=True))
        elif other != user and (kind == _ALIAS or not self.persons[other].is_identified):
            self.merge(other, user)


_MICROS = "(extract(epoch FROM {0}) * 1000000)::bigint AS {0}"


async def _load(connection: asyncpg.Connection, project_id: UUID, ids: list[str]) -> _Plan:
    """Who the ids are, with those persons locked; their traits are loaded later, only where needed."""
    rows = await connection.fetch(
        # A join on unnest, not `= ANY(...)`: an index lookup per id whatever the planner's statistics say
        # (a seq scan comparing every row with every id is what a stale estimate picks for ANY).
        "SELECT d.distinct_id, d.person_id FROM unnest($2::text[]) AS wanted (id)"
        " JOIN person_distinct_ids d ON d.project_id = $1 AND d.distinct_id = wanted.id",
        project_id, ids,
    )
    mapping = {row["distinct_id"]: row["person_id"] for row in rows}
    wanted = sorted(set(mapping.values()))
    locked = await connection.fetch(
        f"SELECT id, is_identified, {_MICROS.format('first_seen')}, {_MICROS.format('last_seen')}, merged_into"
        " FROM unnest($1::uuid[]) AS wanted (id) JOIN persons USING (id) ORDER BY id FOR UPDATE OF persons",
        wanted,
    )
    if len(locked) != len(wanted) or any(row["merged_into"] is not None for row in locked):
        raise IdentityRace("a person was merged while this batch was being stored")
    persons = {
        row["id"]: PersonState(row["id"], row["is_identified"], None, None, row["first_seen"], row["last_seen"])
        for row in locked
    }
    return _Plan(mapping, persons)


async def _load_traits(connection: asyncpg.Connection, plan: _Plan, distinct_ids: set[str]) -> None:
    """Read the traits of the (already locked) persons of these ids: those that identify, map or merge."""
    wanted = sorted({person_id for distinct_id in distinct_ids
                     if (person_id := plan.mapping.get(distinct_id)) is not None
                     and plan.persons[person_id].traits is None})
    if not wanted:
        return
    rows = await connection.fetch(
        "SELECT id, traits::text, trait_times::text FROM unnest($1::uuid[]) AS wanted (id) JOIN persons USING (id)",
        wanted,
    )
    for row in rows:
        state = plan.persons[row["id"]]
        state.traits, state.trait_times = orjson.loads(row["traits"]), orjson.loads(row["trait_times"])


_FROM_MICROS = "'epoch'::timestamptz + unnest({}::bigint[]) * interval '1 microsecond'"


async def _write(connection: asyncpg.Connection, project_id: UUID, plan: _Plan) -> list[tuple[str, UUID]]:
    """Store the plan; returns the (distinct id, surviving person) of every id a merge moved."""
    moved: list[tuple[str, UUID]] = []
    new = [state for state in plan.persons.values() if state.is_new and state.merged_into is None]
    if new:
        await connection.execute(
            "INSERT INTO persons (id, project_id, traits, trait_times, is_identified, first_seen, last_seen)"
            " SELECT unnest($2::uuid[]), $1, unnest($3::jsonb[]), unnest($4::jsonb[]), unnest($5::bool[]), "
            + _FROM_MICROS.format("$6") + ", " + _FROM_MICROS.format("$7"),
            project_id, [state.id for state in new],
            [orjson.dumps(state.traits).decode() for state in new],
            [orjson.dumps(state.trait_times).decode() for state in new],
            [state.is_identified for state in new],
            [state.first_seen_us for state in new], [state.last_seen_us for state in new],
        )
    for loser, winner in plan.merges:
        if plan.persons[loser].is_new:
            continue
        winner = plan.live(winner)
        rows = await connection.fetch(
            "UPDATE person_distinct_ids SET person_id = $3 WHERE project_id = $1 AND person_id = $2"
            " RETURNING distinct_id",
            project_id, loser, winner,
        )
        moved.extend((row["distinct_id"], winner) for row in rows)
        await connection.execute(
            "UPDATE persons SET merged_into = $2 WHERE id = $1 OR merged_into = $1", loser, winner
        )
    if plan.new_ids:
        ids = sorted(plan.new_ids)
        inserted = await connection.fetch(
            "INSERT INTO person_distinct_ids (project_id, distinct_id, person_id)"
            " SELECT $1, d, p FROM unnest($2::text[], $3::uuid[]) AS t(d, p) ORDER BY d"
            " ON CONFLICT DO NOTHING RETURNING distinct_id",
            project_id, ids, [plan.live(plan.new_ids[distinct_id]) for distinct_id in ids],
        )
        if len(inserted) != len(ids):
            raise IdentityRace("another writer attached one of these distinct ids first")
    stored = [state for state in plan.persons.values() if not state.is_new and state.merged_into is None]
    changed = [state for state in stored if state.changed]
    seen = [state for state in stored if state.seen_changed and not state.changed]
    if seen:
        await connection.execute(
            "UPDATE persons p SET first_seen = 'epoch'::timestamptz + c.first_us * interval '1 microsecond',"
            " last_seen = 'epoch'::timestamptz + c.last_us * interval '1 microsecond'"
            " FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS c(id, first_us, last_us) WHERE p.id = c.id",
            [state.id for state in seen], [state.first_seen_us for state in seen],
            [state.last_seen_us for state in seen],
        )
    if changed:
        await connection.execute(
            "UPDATE persons p SET traits = c.traits, trait_times = c.trait_times, is_identified = c.identified,"
            " first_seen = 'epoch'::timestamptz + c.first_us * interval '1 microsecond',"
            " last_seen = 'epoch'::timestamptz + c.last_us * interval '1 microsecond'"
            " FROM unnest($1::uuid[], $2::jsonb[], $3::jsonb[], $4::bool[], $5::bigint[], $6::bigint[])"
            " AS c(id, traits, trait_times, identified, first_us, last_us) WHERE p.id = c.id",
            [state.id for state in changed],
            [orjson.dumps(state.traits).decode() for state in changed],
            [orjson.dumps(state.trait_times).decode() for state in changed],
            [state.is_identified for state in changed],
            [state.first_seen_us for state in changed], [state.last_seen_us for state in changed],
        )
    return moved


def _apply_event_traits(
    plan: _Plan, person_of: dict[str, UUID], facts: list[EventFacts], mappings: dict[str, list[tuple[str, str]]]
) -> None:
    persons = plan.persons
    with_traits = []
    for fact in facts:
        persons[person_of[fact.distinct_id]].saw(fact.time_us)
        if (fact.type == _IDENTIFY and fact.traits_json) or fact.event in mappings:
            with_traits.append(fact)
    # In event-time order, so that of two values set at the same moment the later event's wins.
    for fact in sorted(with_traits, key=lambda fact: fact.time_us):
        person = persons[person_of[fact.distinct_id]]
        traits: dict = {}
        if fact.type == _IDENTIFY and fact.traits_json:
            traits = _json_object(fact.traits_json)
        if (pairs := mappings.get(fact.event)) and fact.properties_json != "{}":
            traits = {**mapped_traits(_json_object(fact.properties_json), pairs), **traits}
        if traits:
            person.set_traits(normalize_traits(traits, default_region=fact.country), fact.time_us)


async def resolve_persons(
    connection: asyncpg.Connection,
    project_id: str,
    facts: list[EventFacts],
    mappings: dict[str, list[tuple[str, str]]],
) -> Resolution:
    """Attach every event's distinct id to a person, apply links, merges and traits; return who is who.

    `mappings` is the project's trait mappings: event name -> [(property path, trait)].
    """
    project = UUID(project_id)
    links = _links(facts)
    ids = {fact.distinct_id for fact in facts}
    ids.update(other for _, _, _, other, _ in links)
    plan = await _load(connection, project, sorted(ids))
    with_traits = {fact.distinct_id for fact in facts
                   if (fact.type == _IDENTIFY and fact.traits_json) or fact.event in mappings}
    for _, _, _, other_id, user_id in links:
        with_traits.update((other_id, user_id))
    await _load_traits(connection, plan, with_traits)
    for _, _, kind, other_id, user_id in links:
        plan.link(kind, other_id, user_id)
    user_ids = {fact.user_id for fact in facts if fact.user_id}
    person_of = {}
    for distinct_id in sorted(ids):
        person_id = plan.person_of(distinct_id)
        if person_id is None:
            person_id = plan.new_person(identified=distinct_id in user_ids)
            plan.attach(distinct_id, person_id)
        person_of[distinct_id] = person_id
    for distinct_id in user_ids:
        person = plan.persons[person_of[distinct_id]]
        if not person.is_identified:
            person.is_identified = person.changed = True
    _apply_event_traits(plan, person_of, facts, mappings)
    # A person whose flags changed without trait events (rare) is written whole: read its traits first.
    await _load_traits(connection, plan, {distinct_id for distinct_id, person_id in plan.mapping.items()
                                          if plan.persons[person_id].changed
                                          and plan.persons[person_id].traits is None})
    moved = await _write(connection, project, plan)
    created = sum(1 for state in plan.persons.values() if state.is_new and state.merged_into is None)
    merges = [(loser, plan.live(winner)) for loser, winner in plan.merges if not plan.persons[loser].is_new]
    return Resolution(person_of, merges, created, moved)


async def reassign_events(connection: asyncpg.Connection, project_id: str, moved_ids: list[tuple[str, UUID]]) -> None:
    """Give the stored events of the distinct ids merges moved to their surviving person.

    One equality lookup on the events' distinct-id index per moved id (a plan that holds whatever the
    statistics say): the cost is the merged persons' history, not the survivor's.
    """
    if moved_ids:
        project = UUID(project_id)
        await connection.executemany(
            "UPDATE events SET person_id = $3 WHERE project_id = $1 AND distinct_id = $2"
            " AND person_id IS NOT NULL AND person_id <> $3",
            [(project, distinct_id, person) for distinct_id, person in sorted(moved_ids)],
        )

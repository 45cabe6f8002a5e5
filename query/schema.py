"""The GraphQL schema: the root Query, Mutation and Subscription composed from the domain folders."""

import logging
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.types import ExecutionContext

from query.accounts.mutations import AccountsMutation
from query.accounts.queries import AccountsQuery
from query.alerts.mutations import AlertsMutation
from query.alerts.queries import AlertsQuery
from query.alerts.subscriptions import AlertsSubscription
from query.destinations.mutations import DestinationsMutation
from query.destinations.queries import DestinationsQuery
from query.errors import QueryError
from query.events.queries import EventsQuery
from query.events.subscriptions import EventsSubscription
from query.funnels.queries import FunnelsQuery
from query.funnels.subscriptions import FunnelsSubscription
from query.journeys.queries import JourneysQuery
from query.members.mutations import MembersMutation
from query.members.queries import MembersQuery
from query.metrics import OperationMetrics
from query.persons.mutations import PersonsMutation
from query.persons.queries import PersonsQuery
from query.projects.mutations import ProjectsMutation
from query.projects.queries import ProjectsQuery
from query.realtime.queries import RealtimeQuery
from query.realtime.subscriptions import RealtimeSubscription
from query.reports.mutations import ReportsMutation
from query.reports.queries import ReportsQuery
from query.retention.queries import ActiveUsersQuery, RetentionQuery
from query.retention.subscriptions import ActiveUsersSubscription, RetentionSubscription
from query.schemas.mutations import SchemasMutation
from query.schemas.queries import SchemasQuery
from query.sessions.queries import SessionsQuery
from query.sessions.subscriptions import SessionsSubscription
from query.toplists.queries import TopListsQuery
from query.trends.queries import TrendsQuery
from query.trends.subscriptions import TrendsSubscription

logger = logging.getLogger(__name__)

MAX_QUERY_DEPTH = 10
"""Deepest selection a client may send; our deepest real query (events) needs 4."""

MAX_ALIASES = 30
"""Most aliased fields in one document: aliases let one small request ask for the same costly field many times."""

MAX_TOKENS = 5000
"""Most lexical tokens in one document; parsing stops there, so a huge document costs little. Ours use ~100."""


@strawberry.type
class Query(
    TrendsQuery,
    FunnelsQuery,
    RetentionQuery,
    ActiveUsersQuery,
    EventsQuery,
    AccountsQuery,
    ProjectsQuery,
    MembersQuery,
    PersonsQuery,
    SchemasQuery,
    SessionsQuery,
    TopListsQuery,
    JourneysQuery,
    RealtimeQuery,
    AlertsQuery,
    DestinationsQuery,
    ReportsQuery,
):
    pass


@strawberry.type
class Mutation(AccountsMutation, ProjectsMutation, MembersMutation, PersonsMutation, SchemasMutation, AlertsMutation,
               DestinationsMutation, ReportsMutation):
    pass


@strawberry.type
class Subscription(
    EventsSubscription,
    RealtimeSubscription,
    TrendsSubscription,
    FunnelsSubscription,
    RetentionSubscription,
    ActiveUsersSubscription,
    SessionsSubscription,
    AlertsSubscription,
):
    pass


def _is_unexpected(error: GraphQLError) -> bool:
    # Resolver failures that are not QueryErrors are bugs or outages: their
    # text may hold SQL or internals, so the client only learns that it failed.
    # Errors without an original error (syntax, validation, variable coercion)
    # describe the client's own document and stay visible.
    original = error.original_error
    return original is not None and not isinstance(original, (QueryError, GraphQLError))


def _document_error_code(error: GraphQLError) -> str:
    """The code of an error in the client's document itself, as Apollo names them."""
    if error.message.startswith("Syntax Error"):
        return "GRAPHQL_PARSE_FAILED"
    if error.message.startswith("Variable '$"):
        return "BAD_USER_INPUT"  # a variable's value does not fit its type (a wrong enum value, a missing field)
    return "GRAPHQL_VALIDATION_FAILED"


def _pass_event_through(source: object, _info: object, /, **_arguments: object) -> object:
    # Positional-only, so an argument named like a parameter lands in `_arguments`.
    return source


class QuerySchema(strawberry.Schema):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Strawberry resolves each subscription event with `lambda event, *_, **__: event`, which fails with
        # "multiple values for argument 'event'" on a field that has an argument named `event`, as
        # liveActiveUsers has (like activeUsers). Same behaviour, without the name clash.
        if self._schema.subscription_type is not None:
            for field in self._schema.subscription_type.fields.values():
                field.resolve = _pass_event_through

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Expected errors are the client's business; only the unexpected ones are worth a log line.
        for error in errors:
            in_document = error.original_error is None or isinstance(error.original_error, GraphQLError)
            if in_document and not (error.extensions or {}).get("code"):
                error.extensions = {**(error.extensions or {}), "code": _document_error_code(error)}
            if _is_unexpected(error):
                logger.error("query failed: %s at %s", error.message, error.path, exc_info=error.original_error)
            else:
                logger.debug("query rejected: %s", error.message)


def create_schema() -> strawberry.Schema:
    return QuerySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        # Factories, not instances: Strawberry builds fresh extensions for every request.
        extensions=[
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH),
            lambda: MaskErrors(should_mask_error=_is_unexpected),
            OperationMetrics,
        ],
    )

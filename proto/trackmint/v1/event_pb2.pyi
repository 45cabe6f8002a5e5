import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    EVENT_TYPE_TRACK: _ClassVar[EventType]
    EVENT_TYPE_PAGE: _ClassVar[EventType]
    EVENT_TYPE_SCREEN: _ClassVar[EventType]
    EVENT_TYPE_IDENTIFY: _ClassVar[EventType]
    EVENT_TYPE_GROUP: _ClassVar[EventType]
    EVENT_TYPE_ALIAS: _ClassVar[EventType]
EVENT_TYPE_UNSPECIFIED: EventType
EVENT_TYPE_TRACK: EventType
EVENT_TYPE_PAGE: EventType
EVENT_TYPE_SCREEN: EventType
EVENT_TYPE_IDENTIFY: EventType
EVENT_TYPE_GROUP: EventType
EVENT_TYPE_ALIAS: EventType

class Event(_message.Message):
    __slots__ = ("message_id", "type", "name", "anonymous_id", "user_id", "session_id", "timestamp", "sent_at", "properties_json", "traits_json", "context", "group_id", "previous_id", "enrichment")
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ANONYMOUS_ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_JSON_FIELD_NUMBER: _ClassVar[int]
    TRAITS_JSON_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_ID_FIELD_NUMBER: _ClassVar[int]
    ENRICHMENT_FIELD_NUMBER: _ClassVar[int]
    message_id: str
    type: EventType
    name: str
    anonymous_id: str
    user_id: str
    session_id: str
    timestamp: _timestamp_pb2.Timestamp
    sent_at: _timestamp_pb2.Timestamp
    properties_json: str
    traits_json: str
    context: Context
    group_id: str
    previous_id: str
    enrichment: Enrichment
    def __init__(self, message_id: _Optional[str] = ..., type: _Optional[_Union[EventType, str]] = ..., name: _Optional[str] = ..., anonymous_id: _Optional[str] = ..., user_id: _Optional[str] = ..., session_id: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., properties_json: _Optional[str] = ..., traits_json: _Optional[str] = ..., context: _Optional[_Union[Context, _Mapping]] = ..., group_id: _Optional[str] = ..., previous_id: _Optional[str] = ..., enrichment: _Optional[_Union[Enrichment, _Mapping]] = ...) -> None: ...

class Context(_message.Message):
    __slots__ = ("ip", "user_agent", "locale", "timezone", "page", "campaign", "library", "extra_json")
    IP_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    TIMEZONE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_FIELD_NUMBER: _ClassVar[int]
    EXTRA_JSON_FIELD_NUMBER: _ClassVar[int]
    ip: str
    user_agent: str
    locale: str
    timezone: str
    page: Page
    campaign: Campaign
    library: Library
    extra_json: str
    def __init__(self, ip: _Optional[str] = ..., user_agent: _Optional[str] = ..., locale: _Optional[str] = ..., timezone: _Optional[str] = ..., page: _Optional[_Union[Page, _Mapping]] = ..., campaign: _Optional[_Union[Campaign, _Mapping]] = ..., library: _Optional[_Union[Library, _Mapping]] = ..., extra_json: _Optional[str] = ...) -> None: ...

class Page(_message.Message):
    __slots__ = ("url", "path", "referrer", "title", "search")
    URL_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    REFERRER_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    url: str
    path: str
    referrer: str
    title: str
    search: str
    def __init__(self, url: _Optional[str] = ..., path: _Optional[str] = ..., referrer: _Optional[str] = ..., title: _Optional[str] = ..., search: _Optional[str] = ...) -> None: ...

class Campaign(_message.Message):
    __slots__ = ("source", "medium", "name", "term", "content")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    MEDIUM_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    source: str
    medium: str
    name: str
    term: str
    content: str
    def __init__(self, source: _Optional[str] = ..., medium: _Optional[str] = ..., name: _Optional[str] = ..., term: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class Library(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class Enrichment(_message.Message):
    __slots__ = ("browser", "browser_version", "os", "os_version", "device_type", "country", "region", "city", "referrer_domain", "channel", "is_bot", "schema_violation")
    BROWSER_FIELD_NUMBER: _ClassVar[int]
    BROWSER_VERSION_FIELD_NUMBER: _ClassVar[int]
    OS_FIELD_NUMBER: _ClassVar[int]
    OS_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    REFERRER_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    IS_BOT_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VIOLATION_FIELD_NUMBER: _ClassVar[int]
    browser: str
    browser_version: str
    os: str
    os_version: str
    device_type: str
    country: str
    region: str
    city: str
    referrer_domain: str
    channel: str
    is_bot: bool
    schema_violation: str
    def __init__(self, browser: _Optional[str] = ..., browser_version: _Optional[str] = ..., os: _Optional[str] = ..., os_version: _Optional[str] = ..., device_type: _Optional[str] = ..., country: _Optional[str] = ..., region: _Optional[str] = ..., city: _Optional[str] = ..., referrer_domain: _Optional[str] = ..., channel: _Optional[str] = ..., is_bot: _Optional[bool] = ..., schema_violation: _Optional[str] = ...) -> None: ...

import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from trackmint.v1 import event_pb2 as _event_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RejectionCode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECTION_CODE_UNSPECIFIED: _ClassVar[RejectionCode]
    REJECTION_CODE_MISSING_MESSAGE_ID: _ClassVar[RejectionCode]
    REJECTION_CODE_MISSING_IDENTITY: _ClassVar[RejectionCode]
    REJECTION_CODE_MISSING_NAME: _ClassVar[RejectionCode]
    REJECTION_CODE_INVALID_TYPE: _ClassVar[RejectionCode]
    REJECTION_CODE_MISSING_FIELD: _ClassVar[RejectionCode]
    REJECTION_CODE_FIELD_TOO_LONG: _ClassVar[RejectionCode]
    REJECTION_CODE_EVENT_TOO_LARGE: _ClassVar[RejectionCode]
    REJECTION_CODE_INVALID_JSON: _ClassVar[RejectionCode]
    REJECTION_CODE_TOO_DEEP: _ClassVar[RejectionCode]
    REJECTION_CODE_TIMESTAMP_IN_FUTURE: _ClassVar[RejectionCode]
    REJECTION_CODE_TIMESTAMP_TOO_OLD: _ClassVar[RejectionCode]
    REJECTION_CODE_SCHEMA_VIOLATION: _ClassVar[RejectionCode]
    REJECTION_CODE_ORIGIN_NOT_ALLOWED: _ClassVar[RejectionCode]
    REJECTION_CODE_INVALID_FIELD: _ClassVar[RejectionCode]
REJECTION_CODE_UNSPECIFIED: RejectionCode
REJECTION_CODE_MISSING_MESSAGE_ID: RejectionCode
REJECTION_CODE_MISSING_IDENTITY: RejectionCode
REJECTION_CODE_MISSING_NAME: RejectionCode
REJECTION_CODE_INVALID_TYPE: RejectionCode
REJECTION_CODE_MISSING_FIELD: RejectionCode
REJECTION_CODE_FIELD_TOO_LONG: RejectionCode
REJECTION_CODE_EVENT_TOO_LARGE: RejectionCode
REJECTION_CODE_INVALID_JSON: RejectionCode
REJECTION_CODE_TOO_DEEP: RejectionCode
REJECTION_CODE_TIMESTAMP_IN_FUTURE: RejectionCode
REJECTION_CODE_TIMESTAMP_TOO_OLD: RejectionCode
REJECTION_CODE_SCHEMA_VIOLATION: RejectionCode
REJECTION_CODE_ORIGIN_NOT_ALLOWED: RejectionCode
REJECTION_CODE_INVALID_FIELD: RejectionCode

class EventBatch(_message.Message):
    __slots__ = ("sequence", "events", "sent_at")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    SENT_AT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    events: _containers.RepeatedCompositeFieldContainer[_event_pb2.Event]
    sent_at: _timestamp_pb2.Timestamp
    def __init__(self, sequence: _Optional[int] = ..., events: _Optional[_Iterable[_Union[_event_pb2.Event, _Mapping]]] = ..., sent_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("index", "code", "reason", "message_id")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_ID_FIELD_NUMBER: _ClassVar[int]
    index: int
    code: RejectionCode
    reason: str
    message_id: str
    def __init__(self, index: _Optional[int] = ..., code: _Optional[_Union[RejectionCode, str]] = ..., reason: _Optional[str] = ..., message_id: _Optional[str] = ...) -> None: ...

class BatchAck(_message.Message):
    __slots__ = ("sequence", "accepted", "rejections")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTIONS_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    accepted: int
    rejections: _containers.RepeatedCompositeFieldContainer[Rejection]
    def __init__(self, sequence: _Optional[int] = ..., accepted: _Optional[int] = ..., rejections: _Optional[_Iterable[_Union[Rejection, _Mapping]]] = ...) -> None: ...

class IngestedBatch(_message.Message):
    __slots__ = ("project_id", "received_at", "events")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    received_at: _timestamp_pb2.Timestamp
    events: _containers.RepeatedCompositeFieldContainer[_event_pb2.Event]
    def __init__(self, project_id: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., events: _Optional[_Iterable[_Union[_event_pb2.Event, _Mapping]]] = ...) -> None: ...

class RejectedBatch(_message.Message):
    __slots__ = ("project_id", "received_at", "events")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    received_at: _timestamp_pb2.Timestamp
    events: _containers.RepeatedCompositeFieldContainer[RejectedEvent]
    def __init__(self, project_id: _Optional[str] = ..., received_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., events: _Optional[_Iterable[_Union[RejectedEvent, _Mapping]]] = ...) -> None: ...

class RejectedEvent(_message.Message):
    __slots__ = ("event", "code", "reason", "index")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    event: _event_pb2.Event
    code: RejectionCode
    reason: str
    index: int
    def __init__(self, event: _Optional[_Union[_event_pb2.Event, _Mapping]] = ..., code: _Optional[_Union[RejectionCode, str]] = ..., reason: _Optional[str] = ..., index: _Optional[int] = ...) -> None: ...

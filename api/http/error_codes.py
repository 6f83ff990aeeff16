"""The API's own error codes, and the one place every code gets its HTTP status.

Clients branch on `code`, so codes are enum members, never string literals in
handlers. The domain keeps its codes (`engine.errors.ErrorCode`,
`waitingroom.errors.ErrorCode`, re-exported here as `BookingCode` and `RoomCode`, and
the organizer backoffice's `engine.store.errors.OrganizingCode`);
this module adds the codes the HTTP layer decides itself (bad input, sign-in,
ownership, lookups by id, the organizer's rules, dependencies down) with their
status and a default message. `status_of` answers for all three enums, and the
OpenAPI document lists, per operation, the codes it may answer
(`x-error-codes`, built by `api.http.openapi_spec.operation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from engine.errors import ErrorCode as BookingCode
from engine.store.errors import OrganizingCode
from waitingroom.errors import HTTP_STATUS as ROOM_STATUS
from waitingroom.errors import ErrorCode as RoomCode

__all__ = ["ApiErrorCode", "BookingCode", "ErrorCodeLike", "OrganizingCode", "RoomCode",
           "default_message", "status_of"]


class ApiErrorCode(str, Enum):
    # the request itself
    INVALID_REQUEST = "invalid_request"
    MALFORMED_REQUEST = "malformed_request"
    REQUEST_LINE_TOO_LONG = "request_line_too_long"
    REQUEST_HEADER_TOO_LARGE = "request_header_too_large"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    REQUEST_TIMEOUT = "request_timeout"
    LENGTH_REQUIRED = "length_required"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNPROCESSABLE_ENTITY = "unprocessable_entity"
    TOO_MANY_REQUESTS = "too_many_requests"
    RATE_LIMITED = "rate_limited"
    # who is asking
    UNAUTHORIZED = "unauthorized"
    INVALID_CREDENTIALS = "invalid_credentials"
    FORBIDDEN = "forbidden"
    EMAIL_TAKEN = "email_taken"
    # lookups by id
    EVENT_NOT_FOUND = "event_not_found"
    VENUE_NOT_FOUND = "venue_not_found"
    REQUEST_NOT_FOUND = "request_not_found"
    REQUEST_LOST = "request_lost"
    """Told in a request's state (`GET /requests/{id}`, a 200) when Redis lost it undecided."""
    TICKET_NOT_FOUND = "ticket_not_found"
    # state that forbids the change now
    CONFLICT = "conflict"
    EVENT_NOT_ON_SALE = "event_not_on_sale"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    ORDER_NOT_REFUNDABLE = "order_not_refundable"
    TICKET_ALREADY_USED = "ticket_already_used"
    TICKET_VOID = "ticket_void"
    QUEUE_FULL = "queue_full"
    # presales and the waiting list
    PRESALE_NOT_FOUND = "presale_not_found"
    PRESALE_ONLY = "presale_only"
    INVALID_CODE = "invalid_code"
    CODE_USED = "code_used"
    PRESALE_FULL = "presale_full"
    NOT_SOLD_OUT = "not_sold_out"
    NOT_ON_WAITING_LIST = "not_on_waiting_list"
    # the line
    INVALID_INTENT = "invalid_intent"
    # the service
    NOT_READY = "not_ready"
    REDIS_UNAVAILABLE = "redis_unavailable"
    DATABASE_UNAVAILABLE = "database_unavailable"
    SERVICE_UNAVAILABLE = "service_unavailable"
    BUSY = "busy"
    INTERNAL_ERROR = "internal_error"
    TIMEOUT = "timeout"

    @property
    def status(self) -> int:
        return API_CODES[self].status

    @property
    def default_message(self) -> str:
        return API_CODES[self].message


@dataclass(frozen=True)
class CodeSpec:
    status: int
    message: str


API_CODES: dict[ApiErrorCode, CodeSpec] = {
    ApiErrorCode.INVALID_REQUEST: CodeSpec(400, "The request is invalid."),
    ApiErrorCode.MALFORMED_REQUEST: CodeSpec(400, "The request could not be read."),
    ApiErrorCode.REQUEST_LINE_TOO_LONG: CodeSpec(414, "The request line is too long."),
    ApiErrorCode.REQUEST_HEADER_TOO_LARGE: CodeSpec(431, "The request's headers are too large."),
    ApiErrorCode.PAYLOAD_TOO_LARGE: CodeSpec(413, "The request body exceeds the limit."),
    ApiErrorCode.NOT_FOUND: CodeSpec(404, "No such resource."),
    ApiErrorCode.METHOD_NOT_ALLOWED: CodeSpec(405, "This method is not allowed here."),
    ApiErrorCode.NOT_ACCEPTABLE: CodeSpec(406, "No acceptable representation."),
    ApiErrorCode.REQUEST_TIMEOUT: CodeSpec(408, "The request took too long to arrive."),
    ApiErrorCode.LENGTH_REQUIRED: CodeSpec(411, "Content-Length is required."),
    ApiErrorCode.UNSUPPORTED_MEDIA_TYPE: CodeSpec(415, "Unsupported media type."),
    ApiErrorCode.UNPROCESSABLE_ENTITY: CodeSpec(422, "Unprocessable request."),
    ApiErrorCode.TOO_MANY_REQUESTS: CodeSpec(429, "Slow down; see Retry-After."),
    ApiErrorCode.RATE_LIMITED: CodeSpec(429, "Too many attempts; see Retry-After."),
    ApiErrorCode.UNAUTHORIZED: CodeSpec(401, "Sign in: send `Authorization: Bearer <token>`."),
    ApiErrorCode.INVALID_CREDENTIALS: CodeSpec(401, "Email or password is wrong."),
    ApiErrorCode.FORBIDDEN: CodeSpec(403, "You may not do this."),
    ApiErrorCode.EMAIL_TAKEN: CodeSpec(409, "An account with this email exists; sign in."),
    ApiErrorCode.EVENT_NOT_FOUND: CodeSpec(404, "No such event."),
    ApiErrorCode.VENUE_NOT_FOUND: CodeSpec(404, "No such venue."),
    ApiErrorCode.REQUEST_NOT_FOUND: CodeSpec(404, "No such request."),
    ApiErrorCode.REQUEST_LOST: CodeSpec(
        410, "This request was lost in a server restart before it was decided; nothing was "
             "booked. Please send it again."),
    ApiErrorCode.TICKET_NOT_FOUND: CodeSpec(404, "No such ticket for this event."),
    ApiErrorCode.CONFLICT: CodeSpec(409, "It changed meanwhile; try again."),
    ApiErrorCode.EVENT_NOT_ON_SALE: CodeSpec(409, "This event is not on sale."),
    ApiErrorCode.IDEMPOTENCY_CONFLICT: CodeSpec(
        409, "This Idempotency-Key was used with a different request."),
    ApiErrorCode.ORDER_NOT_REFUNDABLE: CodeSpec(409, "This order cannot be refunded."),
    ApiErrorCode.TICKET_ALREADY_USED: CodeSpec(409, "This ticket was already scanned in."),
    ApiErrorCode.TICKET_VOID: CodeSpec(409, "This ticket is void: its order was refunded."),
    ApiErrorCode.QUEUE_FULL: CodeSpec(429, "Too many requests waiting; retry shortly."),
    ApiErrorCode.PRESALE_NOT_FOUND: CodeSpec(404, "No such presale."),
    ApiErrorCode.PRESALE_ONLY: CodeSpec(
        403, "Only presale code holders may join the line now; redeem a code first."),
    ApiErrorCode.INVALID_CODE: CodeSpec(404, "No open presale has this code."),
    ApiErrorCode.CODE_USED: CodeSpec(409, "This code was used by another account."),
    ApiErrorCode.PRESALE_FULL: CodeSpec(409, "This presale has let in all it may."),
    ApiErrorCode.NOT_SOLD_OUT: CodeSpec(409, "Tickets are still on sale: book them instead."),
    ApiErrorCode.NOT_ON_WAITING_LIST: CodeSpec(
        404, "This account is not on the waiting list."),
    ApiErrorCode.INVALID_INTENT: CodeSpec(400, "This intent cannot be held as asked."),
    ApiErrorCode.NOT_READY: CodeSpec(503, "Not ready."),
    ApiErrorCode.REDIS_UNAVAILABLE: CodeSpec(
        503, "the queue store is unavailable; retry shortly"),
    ApiErrorCode.DATABASE_UNAVAILABLE: CodeSpec(
        503, "the database is unavailable; retry shortly"),
    ApiErrorCode.SERVICE_UNAVAILABLE: CodeSpec(503, "Unavailable; retry shortly."),
    ApiErrorCode.BUSY: CodeSpec(503, "Too busy now; retry shortly."),
    ApiErrorCode.INTERNAL_ERROR: CodeSpec(500, "internal error; please report the request id"),
    ApiErrorCode.TIMEOUT: CodeSpec(504, "the request took too long; retry"),
}

BOOKING_STATUS: dict[BookingCode, int] = {
    BookingCode.SEATS_TAKEN: 409,
    BookingCode.SOLD_OUT: 409,
    BookingCode.LIMIT_EXCEEDED: 409,
    BookingCode.HOLD_NOT_FOUND: 404,
    BookingCode.ORDER_NOT_FOUND: 404,
    BookingCode.HOLD_EXPIRED: 410,
    BookingCode.INVALID_REQUEST: 400,
    BookingCode.TIER_LOCKED: 403,
}

ORGANIZING_STATUS: dict[OrganizingCode, int] = {
    OrganizingCode.INVALID_REQUEST: 400,
    OrganizingCode.FORBIDDEN: 403,
    OrganizingCode.EVENT_NOT_FOUND: 404,
    OrganizingCode.VENUE_NOT_FOUND: 404,
    OrganizingCode.EVENT_CANCELLED: 409,
    OrganizingCode.EVENT_LOCKED: 409,
    OrganizingCode.EVENT_IN_PAST: 409,
    OrganizingCode.EVENT_NOT_PUBLISHED: 409,
}

ErrorCodeLike = ApiErrorCode | BookingCode | RoomCode | OrganizingCode
"""Any code a response may carry: the API's own or the domain's."""

_missing = ((set(ApiErrorCode) - set(API_CODES)) | (set(BookingCode) - set(BOOKING_STATUS))
            | (set(OrganizingCode) - set(ORGANIZING_STATUS)))
if _missing:  # a new code without its status must not reach a client as a 500
    raise RuntimeError(f"error codes without an HTTP status: {sorted(_missing)}")


def status_of(code: ErrorCodeLike) -> int:
    """The HTTP status every response with this code has."""
    if isinstance(code, ApiErrorCode):
        return API_CODES[code].status
    if isinstance(code, BookingCode):
        return BOOKING_STATUS[code]
    if isinstance(code, OrganizingCode):
        return ORGANIZING_STATUS[code]
    return ROOM_STATUS[code]


def default_message(code: ErrorCodeLike) -> str:
    if isinstance(code, ApiErrorCode):
        return API_CODES[code].message
    return str(code.value).replace("_", " ").capitalize() + "."

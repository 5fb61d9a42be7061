"""Every error the API answers is a problem document (RFC 9457): JSON with
type, title, status and detail, served as application/problem+json."""

import logging
from http import HTTPStatus

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, JsonResponse
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as RequestInvalid

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "urn:letterpress:problem:"


class Problem(Exception):
    """Raised anywhere in the API; answered as a problem document."""

    def __init__(
        self,
        status: int,
        detail: str = "",
        *,
        kind: str = "",
        headers: dict | None = None,
        errors: list | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = headers or {}
        self.errors = errors


def response(problem: Problem) -> JsonResponse:
    document = {
        # "about:blank": the problem is what the HTTP status says (RFC 9457 4.2.1).
        "type": TYPE_BASE + problem.kind if problem.kind else "about:blank",
        "title": HTTPStatus(problem.status).phrase,
        "status": problem.status,
        "detail": problem.detail or HTTPStatus(problem.status).description,
    }
    if problem.errors is not None:
        document["errors"] = problem.errors
    answer = JsonResponse(document, status=problem.status, content_type=CONTENT_TYPE)
    for name, value in problem.headers.items():
        answer[name] = value
    return answer


def validation_errors(errors: list[dict]) -> list[dict]:
    """pydantic's errors, without the input echoed back (it may be anything)."""
    return [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
        }
        for error in errors
    ]


def install(api) -> None:
    """The API's exception handlers: nothing leaves as an HTML error page."""

    def handle(exc_type, make):
        api.add_exception_handler(exc_type, lambda request, exc: response(make(exc)))

    handle(Problem, lambda exc: exc)
    handle(
        RequestInvalid,
        lambda exc: Problem(
            422,
            "The request does not match the API's schema.",
            kind="invalid-request",
            errors=validation_errors(exc.errors),
        ),
    )
    handle(
        ValidationError,
        lambda exc: Problem(422, " ".join(exc.messages), kind="invalid-request"),
    )
    handle(
        AuthenticationError,
        lambda exc: Problem(
            401,
            "Send a valid API token: Authorization: Bearer lp_…",
            kind="unauthenticated",
            headers={"WWW-Authenticate": "Bearer"},
        ),
    )
    handle(HttpError, lambda exc: Problem(exc.status_code, str(exc)))
    handle(Http404, lambda exc: Problem(404, "No such object."))
    handle(ObjectDoesNotExist, lambda exc: Problem(404, "No such object."))

    def server_error(request, exc):
        log.exception("API error on %s %s", request.method, request.path)
        return response(Problem(500, "Something went wrong on our side."))

    api.add_exception_handler(Exception, server_error)

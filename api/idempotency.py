"""Idempotency keys on creates: a client that did not hear the answer sends
the request again with the same Idempotency-Key header and gets the first
answer, not a second subscriber or draft. The same key with another body is
a mistake of the client's (422); the same key while the first request still
runs, 409. Keys are per token and kept for a day."""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone

from api.models import IdempotentRequest
from api.problems import Problem

HEADER = "Idempotency-Key"
KEPT = timedelta(days=1)


def respond(request: HttpRequest, create: Callable[[], tuple[int, dict]]) -> JsonResponse:
    """`create`'s answer (status, JSON body), made once per Idempotency-Key."""
    key = request.headers.get(HEADER, "")
    if not key:
        return _json(*create())
    if len(key) > 255 or not key.isprintable():
        raise Problem(422, f"{HEADER} is at most 255 printable characters.", kind="bad-key")
    token = request.auth
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode() + request.body)
    IdempotentRequest.objects.filter(token=token, created__lt=timezone.now() - KEPT).delete()
    try:
        with transaction.atomic():
            claim = IdempotentRequest.objects.create(
                token=token, key=key, request_digest=digest.hexdigest()
            )
    except IntegrityError:
        return _replay(token, key, digest.hexdigest())
    try:
        status, body = create()
    except BaseException:
        claim.delete()  # an error made nothing: the same key may try again
        raise
    claim.status, claim.body = status, json.dumps(body)
    claim.save(update_fields=["status", "body"])
    return _json(status, body)


def _replay(token, key: str, digest: str) -> JsonResponse:
    first = IdempotentRequest.objects.get(token=token, key=key)
    if first.request_digest != digest:
        raise Problem(
            422, f"This {HEADER} was used with another request.", kind="idempotency-key-reused"
        )
    if first.status is None:
        raise Problem(
            409, f"A request with this {HEADER} is still running.", kind="idempotency-in-progress"
        )
    answer = _json(first.status, json.loads(first.body))
    answer["Idempotent-Replayed"] = "true"
    return answer


def _json(status: int, body: dict) -> JsonResponse:
    return JsonResponse(body, status=status)

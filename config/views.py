from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from config.celery import app as celery_app


def home(request: HttpRequest) -> HttpResponse:
    return redirect("signup_index")


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    failing = [name for name, ok in checks.items() if not ok]
    body = {name: ("ok" if ok else "unreachable") for name, ok in checks.items()}
    body["status"] = "ok" if not failing else f"{', '.join(failing)} unreachable"
    return JsonResponse(body, status=503 if failing else 200)

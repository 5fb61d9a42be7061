import pytest

from config.celery import app as celery_app


@pytest.mark.django_db
def test_it_answers_200_when_database_and_broker_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "status": "ok"}


@pytest.mark.django_db
def test_it_answers_503_naming_the_broker_when_it_does_not_answer(client, monkeypatch):
    # Nothing listens on port 1.
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "database": "ok",
        "broker": "unreachable",
        "status": "broker unreachable",
    }


def test_it_answers_503_naming_the_database_when_it_does_not_answer(client):
    # No django_db mark: every query fails, as with a database that is down.
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "database unreachable"

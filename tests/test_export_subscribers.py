import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from subscribers.importing import import_csv
from subscribers.models import Subscriber
from tests.builders import make_newsletter, make_subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def newsletter():
    ml = make_newsletter()
    make_subscription(ml, "ann@example.com", "confirmed")
    make_subscription(ml, "bob@example.com", "pending")
    make_subscription(ml, "eve@example.com", "unsubscribed")
    make_subscription(make_newsletter("rust-notes", name="Rust Notes"), "zed@example.com")
    Subscriber.objects.filter(email="ann@example.com").update(name="Ann, the First")
    return ml


def export(*args) -> list[dict]:
    out = io.StringIO()
    call_command("export_subscribers", *args, stdout=out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_it_writes_every_subscription_of_one_newsletter(newsletter):
    rows = export("--newsletter", "ml-monthly")
    assert [(r["email"], r["status"]) for r in rows] == [
        ("ann@example.com", "confirmed"),
        ("bob@example.com", "pending"),
        ("eve@example.com", "unsubscribed"),
    ]
    assert rows[0]["name"] == "Ann, the First"
    assert rows[0]["confirmed_at"]
    assert rows[1]["confirmed_at"] == ""


def test_it_filters_by_status(newsletter):
    rows = export("--newsletter", "ml-monthly", "--status", "confirmed")
    assert [r["email"] for r in rows] == ["ann@example.com"]


def test_it_writes_to_a_file(newsletter, tmp_path):
    target = tmp_path / "out.csv"
    call_command("export_subscribers", "--newsletter", "ml-monthly", "--output", str(target))
    assert target.read_text().splitlines()[0] == (
        "email,name,status,subscribed_at,confirmed_at,unsubscribed_at"
    )
    assert len(target.read_text().splitlines()) == 4


def test_it_defuses_names_a_spreadsheet_would_run_and_the_import_reads_them_back(
    newsletter, tmp_path
):
    Subscriber.objects.filter(email="bob@example.com").update(name="=HYPERLINK(1)")
    rows = export("--newsletter", "ml-monthly")
    assert rows[1]["name"] == "'=HYPERLINK(1)"

    target = tmp_path / "out.csv"
    call_command("export_subscribers", "--newsletter", "ml-monthly", "--output", str(target))
    Subscriber.objects.all().delete()
    rust = make_newsletter("ml-again", name="ML again")
    call_command("import_subscribers", str(target), "--newsletter", rust.slug, stdout=io.StringIO())
    assert Subscriber.objects.get(email="bob@example.com").name == "=HYPERLINK(1)"
    assert Subscriber.objects.get(email="ann@example.com").name == "Ann, the First"


def test_it_names_an_unknown_newsletter(newsletter):
    with pytest.raises(CommandError, match="No newsletter"):
        export("--newsletter", "nope")


def test_it_streams_from_the_admin(client, newsletter):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-12345-long")
    client.force_login(admin)
    form = client.get("/admin/subscribers/subscriber/export/")
    assert form.status_code == 200
    response = client.get(
        "/admin/subscribers/subscriber/export/",
        {"newsletter": newsletter.pk, "status": "pending"},
    )
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "ml-monthly-pending-" in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[1].startswith("bob@example.com,,pending,")
    assert len(body.splitlines()) == 2


def test_it_shows_counts_per_newsletter_and_searches_by_address_and_name(client, newsletter):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-12345-long")
    client.force_login(admin)
    page = client.get("/admin/subscribers/subscriber/")
    assert "Subscriptions per newsletter" in page.text
    assert f'?newsletter__id__exact={newsletter.pk}&amp;status__exact=confirmed">1<' in page.text
    found = client.get("/admin/subscribers/subscriber/", {"q": "the first"})
    assert "ann@example.com" in found.text
    assert "bob@example.com" not in found.text
    filtered = client.get("/admin/subscribers/subscriber/", {"subscriptions__status": "pending"})
    assert "bob@example.com" in filtered.text
    assert "eve@example.com" not in filtered.text


def test_every_cell_a_spreadsheet_would_run_is_neutralised_and_imports_back(newsletter):
    make_subscription(newsletter, "=1+1@example.org", "confirmed")
    Subscriber.objects.filter(email="=1+1@example.org").update(name="@SUM(A1)")
    row = next(r for r in export("--newsletter", "ml-monthly") if "1+1" in r["email"])
    assert (row["email"], row["name"]) == ("'=1+1@example.org", "'@SUM(A1)")

    out = io.StringIO()
    call_command("export_subscribers", "--newsletter", "ml-monthly", stdout=out)
    other = make_newsletter("elsewhere", name="Elsewhere")
    report = import_csv(io.StringIO(out.getvalue()), other)
    assert not report.errors
    moved = Subscriber.objects.get(subscriptions__newsletter=other, email="=1+1@example.org")
    assert moved.name == "@SUM(A1)"

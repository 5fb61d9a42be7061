import io

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from subscribers.models import Subscriber, Subscription, Suppression
from subscribers.subscriptions import suppress
from tests.builders import make_newsletter, make_subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def newsletter():
    return make_newsletter()


def run(tmp_path, text: str, *args) -> tuple[str, str]:
    path = tmp_path / "list.csv"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_subscribers", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def statuses() -> dict[str, str]:
    return dict(Subscription.objects.values_list("subscriber__email", "status"))


def test_it_imports_a_list_as_pending_by_default(tmp_path, newsletter, mailoutbox):
    out, err = run(
        tmp_path,
        "email,name\nAnn@Example.com,Ann\nbob@example.com,\n",
        "--newsletter",
        "ml-monthly",
    )
    assert statuses() == {"ann@example.com": "pending", "bob@example.com": "pending"}
    assert Subscriber.objects.get(email="ann@example.com").name == "Ann"
    assert "2 added" in out
    assert err == ""
    assert mailoutbox == []  # an import sends nothing by itself


def test_it_imports_confirmed_when_told_and_honours_a_status_column(tmp_path, newsletter):
    run(
        tmp_path,
        "Email,Name,Status\nann@example.com,Ann,\nbob@example.com,Bob,unsubscribed\n",
        "--newsletter",
        "ml-monthly",
        "--confirmed",
    )
    assert statuses() == {"ann@example.com": "confirmed", "bob@example.com": "unsubscribed"}
    ann = Subscription.objects.get(subscriber__email="ann@example.com")
    assert ann.confirmed_at is not None
    assert ann.subscriber.consent_source == "import"


def test_it_reports_each_bad_line_by_number_and_imports_the_rest(tmp_path, newsletter):
    out, err = run(
        tmp_path,
        "email,name,status\n"
        "ann@example.com,Ann,\n"
        "not-an-address,X,\n"
        "\n"
        'bob@example.com,"Bob\nSmith",\n'
        "carol@example.com,Carol,maybe\n"
        "dan@example.com,Dan,confirmed\n",
        "--newsletter",
        "ml-monthly",
    )
    assert statuses() == {"ann@example.com": "pending", "dan@example.com": "confirmed"}
    lines = err.strip().splitlines()
    assert lines[0].startswith("line 3: “not-an-address” is not a valid email address")
    assert lines[1].startswith("line 5: A name must be a single line")
    assert lines[2].startswith("line 7: unknown status “maybe”")
    assert len(lines) == 3
    assert "3 bad lines" in out


def test_it_imports_nothing_with_atomic_when_a_line_is_bad(tmp_path, newsletter):
    with pytest.raises(CommandError, match="Nothing imported: 1 of 3 lines are bad"):
        run(
            tmp_path,
            "email,name\nann@example.com,Ann\nbroken@,B\nbob@example.com,Bob\n",
            "--newsletter",
            "ml-monthly",
            "--atomic",
        )
    assert not Subscriber.objects.exists()
    assert not Subscription.objects.exists()


def test_it_imports_everything_with_atomic_when_all_lines_are_good(tmp_path, newsletter):
    out, _ = run(tmp_path, "email\nann@example.com\n", "--newsletter", "ml-monthly", "--atomic")
    assert statuses() == {"ann@example.com": "pending"}


def test_it_skips_and_counts_suppressed_and_erased_addresses(tmp_path, newsletter):
    suppress("gone@example.com", reason=Suppression.ERASED)
    suppress("bounced@example.com", reason=Suppression.BOUNCED)
    out, _ = run(
        tmp_path,
        "email,name\nGONE@example.com,G\nbounced@example.com,B\nann@example.com,A\n",
        "--newsletter",
        "ml-monthly",
        "--confirmed",
    )
    assert statuses() == {"ann@example.com": "confirmed"}
    assert "2 skipped as suppressed or erased" in out


def test_it_updates_existing_subscriptions_sensibly(tmp_path, newsletter):
    make_subscription(newsletter, "pending@example.com", "pending")
    make_subscription(newsletter, "confirmed@example.com", "confirmed")
    make_subscription(newsletter, "left@example.com", "unsubscribed")
    make_subscription(newsletter, "leaving@example.com", "confirmed")
    Subscriber.objects.filter(email="confirmed@example.com").update(name="Own Name")
    out, _ = run(
        tmp_path,
        "email,name,status\n"
        "pending@example.com,P,confirmed\n"
        "confirmed@example.com,Other Name,pending\n"
        "left@example.com,L,confirmed\n"
        "leaving@example.com,,unsubscribed\n",
        "--newsletter",
        "ml-monthly",
    )
    assert statuses() == {
        "pending@example.com": "confirmed",  # the old tool knew they confirmed
        "confirmed@example.com": "confirmed",  # never demoted to pending
        "left@example.com": "unsubscribed",  # a reader's own choice is never undone
        "leaving@example.com": "unsubscribed",  # the old tool's unsubscribe is honoured
    }
    assert Subscriber.objects.get(email="confirmed@example.com").name == "Own Name"
    assert Subscriber.objects.get(email="pending@example.com").name == "P"  # blank name filled
    assert "2 updated, 2 unchanged" in out


def test_it_adds_a_subscription_for_someone_on_another_newsletter(tmp_path, newsletter):
    other = make_newsletter("rust-notes", name="Rust Notes")
    make_subscription(other, "ann@example.com", "confirmed")
    run(tmp_path, "email\nann@example.com\n", "--newsletter", "ml-monthly", "--confirmed")
    assert Subscriber.objects.count() == 1
    assert Subscription.objects.filter(status="confirmed").count() == 2


def test_it_counts_duplicates_once(tmp_path, newsletter):
    out, err = run(
        tmp_path, "email\nann@example.com\nANN@example.com\n", "--newsletter", "ml-monthly"
    )
    assert statuses() == {"ann@example.com": "pending"}
    assert "1 duplicates skipped" in out


def test_it_reads_a_spreadsheets_bom_and_extra_columns(tmp_path, newsletter):
    run(
        tmp_path,
        "\ufeffemail,name,status,subscribed_at\r\nann@example.com,Ann,confirmed,2024-01-01\r\n".encode(),
        "--newsletter",
        "ml-monthly",
    )
    assert statuses() == {"ann@example.com": "confirmed"}


def test_it_reports_a_line_that_is_not_utf8(tmp_path, newsletter):
    _, err = run(
        tmp_path,
        b"email,name\nann@example.com,Ren\xe9e\nbob@example.com,Bob\n",
        "--newsletter",
        "ml-monthly",
    )
    assert "line 2: is not valid UTF-8 text" in err
    assert statuses() == {"bob@example.com": "pending"}


@pytest.mark.parametrize("text", ["", "name,status\nann,x\n", "e-mail\nann@example.com\n"])
def test_it_refuses_a_file_without_an_email_header(tmp_path, newsletter, text):
    _, err = run(tmp_path, text, "--newsletter", "ml-monthly")
    assert "line 1: the first line must be a header" in err
    assert not Subscriber.objects.exists()


def test_it_names_an_unknown_newsletter_or_missing_file(tmp_path, newsletter):
    with pytest.raises(CommandError, match="No newsletter with the slug “nope”"):
        run(tmp_path, "email\nann@example.com\n", "--newsletter", "nope")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command(
            "import_subscribers", str(tmp_path / "missing.csv"), "--newsletter", "ml-monthly"
        )


def test_it_imports_thousands_of_rows_in_a_few_queries(
    tmp_path, newsletter, django_assert_max_num_queries
):
    rows = "".join(f"reader{n}@example.com,Reader {n}\n" for n in range(5000))
    # Far fewer than one per row (SQLite splits a bulk insert by its variable limit).
    with django_assert_max_num_queries(200):
        out, _ = run(tmp_path, "email,name\n" + rows, "--newsletter", "ml-monthly")
    assert "5000 added" in out
    assert Subscription.objects.count() == 5000


def test_it_imports_an_uploaded_file_from_the_admin(client, newsletter):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw-12345-long")
    client.force_login(admin)
    page = client.get("/admin/subscribers/subscriber/import/")
    assert page.status_code == 200
    upload = SimpleUploadedFile(
        "list.csv", b"email,name\nann@example.com,Ann\nbad@,B\n", content_type="text/csv"
    )
    response = client.post(
        "/admin/subscribers/subscriber/import/",
        {"newsletter": newsletter.pk, "file": upload, "confirmed": "on"},
    )
    assert response.status_code == 200
    assert "Import finished" in response.text
    assert "1 added" in response.text
    assert "<td>3</td>" in response.text
    assert statuses() == {"ann@example.com": "confirmed"}


def test_it_keeps_the_admin_import_to_staff_who_may_add(client, newsletter):
    user = get_user_model().objects.create_user(
        "clerk", "clerk@example.com", "pw-12345-long", is_staff=True
    )
    client.force_login(user)
    assert client.get("/admin/subscribers/subscriber/import/").status_code == 403

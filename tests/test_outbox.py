import pytest
from django.core.mail import EmailMultiAlternatives

from tests.builders import make_editor


@pytest.fixture
def outbox(settings, tmp_path, client, admin_user):
    client.force_login(admin_user)
    settings.EMAIL_BACKEND = "mail.outbox.OutboxBackend"
    settings.OUTBOX_DIR = tmp_path
    settings.DEBUG = True
    return tmp_path


def send(subject="Hello from the outbox"):
    message = EmailMultiAlternatives(
        subject,
        "Plain words",
        "news@example.com",
        ["reader@example.org"],
        headers={"List-Id": "Demo <demo.localhost>"},
    )
    message.attach_alternative("<p>Rich <b>words</b></p>", "text/html")
    message.send()


def test_it_writes_one_eml_file_per_message(outbox):
    send()
    send("Second")
    assert len(list(outbox.glob("*.eml"))) == 2


def test_it_lists_sent_emails_once_newest_first(client, outbox):
    send("Older")
    send("Newer")
    page = client.get("/outbox/").content.decode()
    assert page.count("Newer") == 1
    assert page.index("Newer") < page.index("Older")
    assert "{&#x27;name&#x27;" not in page  # not echoed as a flash message


def test_it_shows_one_email_with_headers_html_and_text(client, outbox):
    send()
    name = next(outbox.glob("*.eml")).name
    page = client.get(f"/outbox/{name}").content.decode()
    assert "List-Id" in page
    assert "Rich &lt;b&gt;words&lt;/b&gt;" in page  # inside a sandboxed srcdoc iframe
    assert "Plain words" in page


def test_it_refuses_names_outside_the_outbox(client, outbox):
    send()
    assert client.get("/outbox/..%2F..%2Fsettings.py").status_code == 404
    assert client.get("/outbox/missing.eml").status_code == 404


def test_it_is_not_served_when_debug_is_off(client, outbox, settings):
    send()
    settings.DEBUG = False
    assert client.get("/outbox/").status_code == 404


def test_it_shows_nothing_to_anyone_but_staff(client, outbox, django_user_model):
    send()
    name = next(outbox.glob("*.eml")).name
    client.logout()
    for path in ("/outbox/", f"/outbox/{name}"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    reader = django_user_model.objects.create_user("reader", password="not staff at all")
    client.force_login(reader)
    assert client.get(f"/outbox/{name}").status_code == 302
    assert b"Rich" not in client.get(f"/outbox/{name}", follow=True).content
    # Staff who may not see the readers: their addresses and links are in there.
    client.force_login(make_editor(perms=("view_issue",)))
    assert client.get("/outbox/").status_code == 403
    assert client.get(f"/outbox/{name}").status_code == 403

"""Moving in: each tool's CSV export imports as it is, recognised by its header
(subscribers.import_formats). Every file below is built from the tool's own
documentation or a published example, named above it; the addresses are ours.
Whatever --confirmed says, nobody who left, bounced or never confirmed there
becomes confirmed here."""

import io
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from subscribers.models import Subscriber, Subscription
from subscribers.subscriptions import suppress
from tests.builders import make_newsletter

pytestmark = pytest.mark.django_db

# Mailchimp's audience export (a zip of subscribed, unsubscribed and cleaned
# files): the headers of Ghost's Mailchimp migrator's fixtures, taken from real
# exports (github.com/TryGhost/migrate, packages/mg-mailchimp-members/src/test/
# fixtures/{subscribed,unsubscribed,cleaned}.csv).
MAILCHIMP_COMMON = (
    "Email Address,First Name,Last Name,Company,Position,ZIP Code,MEMBER_RATING,"
    "OPTIN_TIME,OPTIN_IP,CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,"
    "TIMEZONE,CC,REGION,"
)
MAILCHIMP_SUBSCRIBED = (
    MAILCHIMP_COMMON + "LAST_CHANGED,LEID,EUID,NOTES,TAGS\n"
    "sub@example.com, Dolor , Simet , Lorem Co. ,,,,2018-02-05 19:28:22,,"
    '2018-02-05 19:28:22,,,,,,,,,,,,,"""Lorem Editors"""\n'
)
MAILCHIMP_UNSUBSCRIBED = (
    MAILCHIMP_COMMON + "UNSUB_TIME,UNSUB_CAMPAIGN_TITLE,UNSUB_CAMPAIGN_ID,UNSUB_REASON,"
    "UNSUB_REASON_OTHER,LEID,EUID,NOTES,TAGS\n"
    "unsub@example.com,Dolor,,,,,,2018-02-12 10:54:27,,2018-02-12 10:54:27,,,,,,,,,"
    "2018-07-23 12:19:27,,,,,,,,\n"
)
MAILCHIMP_CLEANED = (
    MAILCHIMP_COMMON + "CLEAN_TIME,CLEAN_CAMPAIGN_TITLE,CLEAN_CAMPAIGN_ID,LEID,EUID,NOTES,TAGS\n"
    "cleaned@example.com,Dolor,,,,,1,2018-02-05 19:28:23,,2018-02-05 19:28:23,,,,,,,,,"
    '2020-03-23 17:30:05,,,,,,"""Editors"""\n'
)

# Substack's "Export" of subscribers: the columns of Ghost's Substack migrator's
# fixture (TryGhost/migrate, packages/mg-substack-members-csv/test/fixtures/
# fixtures_signup_emails.csv); email_disabled is a reader who turned emails off.
SUBSTACK = (
    "email,active_subscription,expiry,email_disabled,created_at\n"
    "reader@example.com,true,2021-07-06T16:20:44.000Z,false,2018-08-27T15:06:27.713Z\n"
    "free@example.com,,,false,2018-12-19T08:03:04.977Z\n"
    "disabled@example.com,true,2025-06-23T23:41:42.980Z,true,2018-08-29T20:50:03.435Z\n"
)

# Beehiiv's subscriber export: TryGhost/migrate, packages/mg-beehiiv-members/
# src/test/fixtures/members.csv (statuses active, inactive, pending).
BEEHIIV = (
    "email,First Name,Last Name,status,tier,created_at,stripe_customer_id,Free Tier,"
    "Premium Tier,unsubscribed_at,Subscription Date (Substack)\n"
    "active@example.com, Lorem Name  ,,active,free,2023-03-24 10:23:10 UTC,,Yes,No,,\n"
    "inactive@example.com, , Dolor Name   ,inactive,free,2023-03-24 10:36:48 UTC,,Yes,No,,\n"
    "pending@example.com,,,pending,free,2023-04-11 14:02:46 UTC,,Yes,No,,\n"
    "unsublit@example.com,,,active,premium,2023-04-11 14:02:46 UTC,cus_1,No,Yes,"
    "2024-03-13 11:33:53 UTC,\n"
)

# Kit (ConvertKit): the subscriber fields of Kit's API v4 reference
# (developers.kit.com/api-reference/subscribers, "Get a subscriber": first_name,
# email_address, state active|cancelled|bounced|complained|inactive, created_at).
KIT = (
    "first_name,email_address,state,created_at\n"
    "Ada,active@example.com,active,2023-02-17T11:43:55Z\n"
    "Bo,cancelled@example.com,cancelled,2023-02-17T11:43:55Z\n"
    "Cy,bounced@example.com,bounced,2023-02-17T11:43:55Z\n"
    "Di,complained@example.com,complained,2023-02-17T11:43:55Z\n"
    "Ed,inactive@example.com,inactive,2023-02-17T11:43:55Z\n"
)

# Buttondown: the subscriber object of Buttondown's API documentation
# (github.com/buttondown/docs, pages/api-reference/subscribers/metadata.json:
# creation_date, email, id, metadata, notes, referrer_url, secondary_id, source,
# subscriber_type, tags, utm_*), subscriber types from its OpenAPI enums.
BUTTONDOWN = (
    "id,email,notes,metadata,tags,referrer_url,creation_date,secondary_id,source,"
    "subscriber_type,utm_campaign,utm_medium,utm_source\n"
    "497f6eca-1,regular@example.com,,{},[],,2019-08-24T14:15:22Z,3,api,regular,,,\n"
    "497f6eca-2,unactivated@example.com,,{},[],,2019-08-24T14:15:22Z,4,api,unactivated,,,\n"
    "497f6eca-3,unsubscribed@example.com,,{},[],,2019-08-24T14:15:22Z,5,api,unsubscribed,,,\n"
    "497f6eca-4,spammy@example.com,,{},[],,2019-08-24T14:15:22Z,6,api,spammy,,,\n"
)

# Ghost's members export (Admin → Members → Export): the header Ghost's own
# members export tests assert (github.com/TryGhost/Ghost, the admin API's
# members export e2e test: id,email,name,note,subscribed_to_emails,
# complimentary_plan,stripe_customer_id,created_at,deleted_at,labels,tiers).
GHOST = (
    "id,email,name,note,subscribed_to_emails,complimentary_plan,stripe_customer_id,"
    "created_at,deleted_at,labels,tiers\n"
    "6a1,member@example.com, Mara Quill ,,true,false,,2022-01-03T10:00:00.000Z,,,\n"
    "6a2,optedout@example.com,,,false,false,,2022-01-03T10:00:00.000Z,,,\n"
)

# listmonk's subscriber export: the header its export handler writes
# (github.com/knadh/listmonk, cmd/subscribers.go: uuid, email, name, attributes,
# status, created_at, updated_at); statuses enabled, disabled, blocklisted.
LISTMONK = (
    "uuid,email,name,attributes,status,created_at,updated_at\n"
    'u-1,enabled@example.com,Enid,"{""city"": ""Bengaluru""}",enabled,'
    "2021-01-02 03:04:05.678+00,2021-01-02 03:04:05.678+00\n"
    "u-2,blocked@example.com,Bo,{},blocklisted,2021-01-02 03:04:05+00,2021-01-02 03:04:05+00\n"
    "u-3,disabled@example.com,Di,{},disabled,2021-01-02 03:04:05+00,2021-01-02 03:04:05+00\n"
)

# Curated's subscriber export: TryGhost/migrate, packages/mg-curated-members-csv/
# test/fixtures/subscribers.csv.
CURATED = (
    "Email Address,Subscribed at,UTM Source,UTM Medium,UTM Term,UTM Content,UTM Campaign,"
    "UTM Last Path,UTM Referrer\n"
    'curated@example.com,2021-02-04 07:55:20 +0000,"","","","","","",""\n'
)

EXPORTS = {
    "Mailchimp (subscribed)": (MAILCHIMP_SUBSCRIBED, {"sub@example.com": "confirmed"}),
    "Mailchimp (unsubscribed)": (MAILCHIMP_UNSUBSCRIBED, {"unsub@example.com": "unsubscribed"}),
    "Mailchimp (cleaned)": (MAILCHIMP_CLEANED, {"cleaned@example.com": "bounced"}),
    "Substack": (
        SUBSTACK,
        {
            "reader@example.com": "confirmed",
            "free@example.com": "confirmed",
            "disabled@example.com": "unsubscribed",
        },
    ),
    "Beehiiv": (
        BEEHIIV,
        {
            "active@example.com": "confirmed",
            "inactive@example.com": "unsubscribed",
            "pending@example.com": "pending",
            "unsublit@example.com": "unsubscribed",
        },
    ),
    "Kit (ConvertKit)": (
        KIT,
        {
            "active@example.com": "confirmed",
            "cancelled@example.com": "unsubscribed",
            "bounced@example.com": "bounced",
            "complained@example.com": "complained",
            "inactive@example.com": "pending",
        },
    ),
    "Buttondown": (
        BUTTONDOWN,
        {
            "regular@example.com": "confirmed",
            "unactivated@example.com": "pending",
            "unsubscribed@example.com": "unsubscribed",
            "spammy@example.com": "bounced",
        },
    ),
    "Ghost members": (
        GHOST,
        {"member@example.com": "confirmed", "optedout@example.com": "unsubscribed"},
    ),
    "listmonk": (
        LISTMONK,
        {
            "enabled@example.com": "confirmed",
            "blocked@example.com": "unsubscribed",
            "disabled@example.com": "unsubscribed",
        },
    ),
    "Curated": (CURATED, {"curated@example.com": "confirmed"}),
}


@pytest.fixture
def newsletter():
    return make_newsletter()


def run(tmp_path, text: str, *args) -> tuple[str, str]:
    path = tmp_path / "export.csv"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_subscribers", str(path), "--newsletter", "ml-monthly", *args, stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


def statuses() -> dict[str, str]:
    return dict(Subscription.objects.values_list("subscriber__email", "status"))


@pytest.mark.parametrize("platform", EXPORTS)
def test_each_platforms_export_imports_without_a_mapping(tmp_path, newsletter, platform):
    text, expected = EXPORTS[platform]
    out, err = run(tmp_path, text, "--confirmed")
    assert err == ""
    assert f"Recognised format: {platform}." in out
    assert statuses() == expected


@pytest.mark.parametrize("platform", EXPORTS)
def test_without_confirmed_nobody_is_confirmed(tmp_path, newsletter, platform):
    text, expected = EXPORTS[platform]
    run(tmp_path, text)
    assert "confirmed" not in statuses().values()
    left = {email for email, status in expected.items() if status not in ("confirmed", "pending")}
    assert {e for e, s in statuses().items() if s not in ("confirmed", "pending")} == left


def test_it_keeps_the_original_subscription_date_as_consent_and_trims_names(tmp_path, newsletter):
    out, _ = run(tmp_path, MAILCHIMP_SUBSCRIBED, "--confirmed")
    reader = Subscriber.objects.get()
    assert reader.name == "Dolor Simet"
    assert reader.consent_at == datetime(2018, 2, 5, 19, 28, 22, tzinfo=UTC)
    assert "(confirm_time or optin_time) is kept as the consent date of 1 new readers" in out

    run(tmp_path, BEEHIIV)
    assert Subscriber.objects.get(email="inactive@example.com").name == "Dolor Name"
    when = Subscriber.objects.get(email="active@example.com").consent_at
    assert when == datetime(2023, 3, 24, 10, 23, 10, tzinfo=UTC)
    run(tmp_path, CURATED)
    when = Subscriber.objects.get(email="curated@example.com").consent_at
    assert when == datetime(2021, 2, 4, 7, 55, 20, tzinfo=UTC)


def test_a_later_file_of_leavers_unsubscribes_and_an_earlier_one_is_not_undone(
    tmp_path, newsletter
):
    """Mailchimp's three files, in any order: who left stays gone."""
    moved = MAILCHIMP_UNSUBSCRIBED.replace("unsub@example.com", "sub@example.com")
    run(tmp_path, MAILCHIMP_SUBSCRIBED, "--confirmed")
    run(tmp_path, moved, "--confirmed")
    assert statuses() == {"sub@example.com": "unsubscribed"}
    run(tmp_path, MAILCHIMP_SUBSCRIBED, "--confirmed")
    assert statuses() == {"sub@example.com": "unsubscribed"}


def test_an_address_suppressed_here_never_comes_in(tmp_path, newsletter):
    suppress("sub@example.com", reason="complained")
    out, _ = run(tmp_path, MAILCHIMP_SUBSCRIBED, "--confirmed")
    assert statuses() == {}
    assert "1 skipped as suppressed or erased" in out


def test_an_unknown_status_is_a_numbered_bad_line(tmp_path, newsletter):
    text = KIT.replace("Ed,inactive@example.com,inactive", "Ed,odd@example.com,frozen")
    out, err = run(tmp_path, text, "--confirmed")
    assert "line 6: unknown state “frozen”" in err
    assert "odd@example.com" not in statuses()


def test_anything_else_imports_with_a_mapping(tmp_path, newsletter):
    text = "E-mail,Full name,State,Joined\nann@example.com,  Ann Lee ,unsubscribed,2020-05-01\n"
    text += "bob@example.com,Bob,active,2020-05-02\n"
    _, err = run(tmp_path, text)  # nothing recognised, nothing imported
    assert err.startswith("line 1: the first line must be a header")
    assert "map its columns" in err
    assert statuses() == {}
    out, err = run(
        tmp_path,
        text,
        "--confirmed",
        "--map",
        "email=E-mail,name=Full name,status=State,date=Joined",
    )
    assert err == ""
    assert "Recognised format: your mapping." in out
    assert statuses() == {"ann@example.com": "unsubscribed", "bob@example.com": "confirmed"}
    assert Subscriber.objects.get(email="ann@example.com").name == "Ann Lee"
    with pytest.raises(CommandError, match="--map"):
        run(tmp_path, text, "--map", "name=Full name")


def test_the_admin_says_which_format_it_recognised_and_takes_a_mapping(client, newsletter):
    staff = get_user_model().objects.create_superuser("ed", "ed@example.com", "pw")
    client.force_login(staff)
    upload = SimpleUploadedFile("members.csv", GHOST.encode(), content_type="text/csv")
    response = client.post(
        "/admin/subscribers/subscriber/import/",
        {"newsletter": newsletter.pk, "file": upload, "confirmed": "on"},
    )
    assert "Recognised format: Ghost members." in response.content.decode()
    assert statuses() == EXPORTS["Ghost members"][1]

    upload = SimpleUploadedFile("x.csv", b"Mail,Who\ncy@example.com,Cy\n", content_type="text/csv")
    response = client.post(
        "/admin/subscribers/subscriber/import/",
        {"newsletter": newsletter.pk, "file": upload, "email_column": "Mail", "name_column": "Who"},
    )
    assert "Recognised format: your mapping." in response.content.decode()
    assert Subscriber.objects.get(email="cy@example.com").name == "Cy"

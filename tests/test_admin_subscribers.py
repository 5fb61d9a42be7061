import pytest
from django.urls import reverse

from subscribers.models import Subscriber

pytestmark = pytest.mark.django_db

ADD = reverse("admin:subscribers_subscriber_add")


def add(admin_client, **fields):
    data = {
        "email": "ann@example.com",
        "name": "Ann",
        "consent_source": "admin",
        "subscriptions-TOTAL_FORMS": "0",
        "subscriptions-INITIAL_FORMS": "0",
    }
    return admin_client.post(ADD, data | fields)


def test_an_editor_adds_a_subscriber_with_a_normalised_address(admin_client):
    response = add(admin_client, email="  Ann@EXAMPLE.com ")

    assert response.status_code == 302
    assert Subscriber.objects.get().email == "ann@example.com"


@pytest.mark.parametrize("name", ["Ann\r\nBcc: victim@example.com", "Ann\u2028Lee", "Ann\uffff"])
def test_a_name_that_is_not_one_line_of_text_is_refused_as_at_signup(admin_client, name):
    response = add(admin_client, name=name)

    assert response.status_code == 200
    assert "A name must be a single line of text." in response.text
    assert not Subscriber.objects.exists()

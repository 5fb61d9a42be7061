import pytest
from django.test import override_settings

from subscribers.addresses import (
    InvalidAddress,
    address_hash,
    address_hashes,
    mailbox,
    mask,
    normalise,
)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  Ann@Example.COM \n", "ann@example.com"),
        ("ANN.LEE+news@example.org", "ann.lee+news@example.org"),
        ("ann@BÜCHER.example", "ann@xn--bcher-kva.example"),
        ("ann@xn--bcher-kva.example", "ann@xn--bcher-kva.example"),
        ("Jörg@example.com", "jörg@example.com"),
    ],
)
def test_it_stores_one_form_per_mailbox(raw, stored):
    assert normalise(raw) == stored


@pytest.mark.parametrize(
    ("raw", "reaches"),
    [
        ("Ann+News@Example.com", "ann@example.com"),
        ("ann+a+b@example.com", "ann@example.com"),
        ("ann.lee@example.com", "ann.lee@example.com"),
        ("A.nn.Lee+x@GMail.com", "annlee@gmail.com"),
        ("ann.lee@googlemail.com", "annlee@gmail.com"),
        ("+tag@example.com", "+tag@example.com"),
    ],
)
def test_it_names_the_mailbox_an_address_reaches(raw, reaches):
    assert mailbox(normalise(raw)) == reaches


def test_it_treats_unicode_and_punycode_domains_as_the_same_address():
    assert normalise("ann@bücher.example") == normalise("ANN@XN--BCHER-KVA.example")


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("", "Enter an email address"),
        ("   ", "Enter an email address"),
        ("ann", "@-sign"),
        ("ann@", "after the @-sign"),
        ("@example.com", "before the @-sign"),
        ("ann@@example.com", "@"),
        ("ann lee@example.com", "SPACE"),
        ("ann@example", "period"),
        ("Ann <ann@example.com>", ""),
        ("ann@example.com\r\nBcc: eve@example.com", ""),
        ("a" * 300 + "@example.com", "too long"),
    ],
)
def test_it_rejects_what_is_not_an_address_with_a_reason(raw, says):
    with pytest.raises(InvalidAddress) as error:
        normalise(raw)
    assert says in str(error.value)
    assert str(error.value)


def test_it_does_not_look_up_dns():
    # No such domain exists; syntax alone decides, so tests never touch the network.
    assert normalise("ann@no-such-domain-for-letterpress-tests.com")


def test_it_hashes_with_a_key_derived_from_the_secret_key(settings):
    first = address_hash("ann@example.com")
    assert len(first) == 64
    assert "ann" not in first
    assert address_hash("bob@example.com") != first
    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789abcdef"
    assert address_hash("ann@example.com") != first


def test_it_still_recognises_hashes_made_under_a_rotated_key():
    with override_settings(SECRET_KEY="old-key-" + "x" * 50):
        old = address_hash("ann@example.com")
    with override_settings(
        SECRET_KEY="new-key-" + "y" * 50, SECRET_KEY_FALLBACKS=["old-key-" + "x" * 50]
    ):
        assert old in address_hashes("ann@example.com")


def test_it_masks_an_address_for_pages_anyone_with_the_link_sees():
    assert mask("reader@example.com") == "re…@example.com"
    assert mask("al@example.com") == "a…@example.com"

"""Two spellings of one link are one link."""

import pytest

from newsletter.curation.urls import canonical_url


@pytest.mark.parametrize(
    "spelling",
    [
        "https://example.org/post/1",
        "http://example.org/post/1",
        "HTTPS://WWW.Example.ORG/post/1/",
        "https://example.org:443/post/1#comments",
        "https://example.org/post/1?utm_source=x&utm_medium=email",
        "https://example.org/post/1?fbclid=abc&gclid=def",
    ],
)
def test_spellings_of_one_page_are_one_link(spelling):
    assert canonical_url(spelling) == canonical_url("https://example.org/post/1")


@pytest.mark.parametrize(
    "other",
    [
        "https://example.org/post/2",
        "https://example.org/Post/1",  # paths are case-sensitive
        "https://example.org/post/1?page=2",
        "https://blog.example.org/post/1",
        "https://example.org:8443/post/1",
    ],
)
def test_other_pages_stay_other_links(other):
    assert canonical_url(other) != canonical_url("https://example.org/post/1")


def test_the_parameters_that_matter_are_kept_in_one_order():
    assert canonical_url("https://example.org/?b=2&a=1&utm_campaign=z") == canonical_url(
        "https://example.org/?a=1&b=2"
    )

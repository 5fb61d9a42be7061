"""An issue's email in Chromium with every <style> element removed, as some
mail clients do: link titles and sources keep their look, light and dark, at
600 and 375 px (artifacts/screenshots/email-bare-*.png), and so do links in
commentary."""

import re

import pytest

from newsletter.rendering import render_issue
from tests.builders import make_authored_issue, make_field_notes_newsletter
from tests.helpers import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

LOOK = """(selector) => {
  const style = getComputedStyle(document.querySelector(selector));
  return {colour: style.color, weight: style.fontWeight, size: style.fontSize,
          underline: style.textDecorationLine};
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_link_titles_and_sources_keep_their_look_without_style_elements(page, scheme):
    issue = make_authored_issue(make_field_notes_newsletter(), sections=2, links=2)
    bare = re.sub(r"<style[^>]*>.*?</style>", "", render_issue(issue).html, flags=re.S)
    assert "<style" not in bare.replace("<!--[if mso]><style>", "")
    page.emulate_media(color_scheme=scheme)
    page.set_content(bare)
    for width in (600, 375):
        page.set_viewport_size({"width": width, "height": 800})
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({"width": width, "height": height})
        screenshot(page, f"email-bare-{scheme}-{width}")
        title = page.evaluate(LOOK, "a.link-title")
        assert title == {
            "colour": "rgb(11, 110, 105)",  # the accent, not default link blue
            "weight": "700",
            "size": "17px",
            "underline": "none",
        }
        source = page.evaluate(LOOK, "span.source")
        assert source["colour"] == "rgb(95, 99, 104)" and source["size"] == "13px"
        commentary_link = page.evaluate(LOOK, ".prose p + p a, .prose a:not(.link-title)")
        assert commentary_link["colour"] == "rgb(11, 110, 105)"
        assert page.locator("h1").inner_text() == "Issue number 1"
        assert page.locator("h2").all_inner_texts() == ["Section 1", "Section 2"]

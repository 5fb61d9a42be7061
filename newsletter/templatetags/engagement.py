from django import template

from newsletter.engagement.feedback import answer_links

register = template.Library()


@register.simple_tag
def feedback_answers() -> list[dict[str, str]]:
    """The one-click answers of an issue email's feedback ask (with [[recipient_key]])."""
    return answer_links()

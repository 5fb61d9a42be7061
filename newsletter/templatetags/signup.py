from django import template

from newsletter.models import Newsletter
from subscribers.forms import SignupForm

register = template.Library()


@register.inclusion_tag("newsletter/_signup_form.html")
def signup_form(newsletter: Newsletter) -> dict:
    """The signup form itself, where readers read (an issue, the archive): the
    signup page's fields, ids of their own so one page may carry several."""
    form = SignupForm(auto_id=f"id_{newsletter.slug}_%s")
    return {"newsletter": newsletter, "form": form}

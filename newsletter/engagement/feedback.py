"""Reader feedback: the footer of every issue asks the newsletter's feedback
question with one-click answers. A link only shows a one-button page (mail
scanners follow links); the POST records the answer, once per delivery, the
latest answer winning."""

from django.db.models import Count
from django.utils import timezone

from mail.links import answer_url
from mail.tokens import read_recipient_key
from newsletter.models import Delivery, Feedback

ANSWERS = Feedback.Answer


def answer_links() -> list[dict[str, str]]:
    """The answers as they appear in an issue email; [[recipient_key]] is filled per reader."""
    return [
        {"answer": answer.value, "label": answer.label, "url": answer_url(answer.value)}
        for answer in ANSWERS
    ]


def delivery_for(key: str) -> Delivery | None:
    """The delivery a recipient key was made for; None when forged or altered."""
    delivery_id = read_recipient_key(key)
    if delivery_id is None:
        return None
    return Delivery.objects.select_related("issue__newsletter").filter(pk=delivery_id).first()


def record_feedback(delivery: Delivery, answer: str) -> Feedback:
    """One answer per delivery: answering again replaces the earlier answer."""
    assert answer in ANSWERS.values, answer
    feedback, _ = Feedback.objects.update_or_create(
        delivery=delivery, defaults={"answer": answer, "updated": timezone.now()}
    )
    return feedback


def feedback_totals(issue) -> list[dict]:
    """Each answer with its count for one issue, in the order readers see them."""
    counts = dict(
        Feedback.objects.filter(delivery__issue=issue)
        .values("answer")
        .annotate(n=Count("id"))
        .values_list("answer", "n")
    )
    return [{"answer": a.value, "label": a.label, "count": counts.get(a.value, 0)} for a in ANSWERS]

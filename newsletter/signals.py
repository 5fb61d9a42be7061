"""Any change to a section or link is a change to its issue: bump Issue.updated,
which the rendering cache is keyed on (newsletter.rendering.render_issue)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from newsletter.models import Issue, Link, Section


def touch_issue(**lookup) -> None:
    Issue.objects.filter(**lookup).update(updated=timezone.now())


@receiver([post_save, post_delete], sender=Section)
def section_changed(sender, instance: Section, **kwargs) -> None:
    touch_issue(pk=instance.issue_id)


@receiver([post_save, post_delete], sender=Link)
def link_changed(sender, instance: Link, **kwargs) -> None:
    touch_issue(sections=instance.section_id)

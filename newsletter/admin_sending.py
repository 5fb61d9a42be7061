"""Sending controls for the issue admin: schedule, unschedule, send now, pause,
resume, cancel, "resend these", and live progress on the issue page.

Mixed into IssueAdmin (newsletter/admin.py). It wraps whatever change form the
admin would render (its own template extends that one), so the editor's page
keeps its look and gains a "Sending" panel above the form. Every action needs
the `newsletter.send_issue` permission; without it the buttons are not shown
and a hand-made POST gets 403. The logic lives in newsletter.sending.
"""

import zoneinfo
from datetime import datetime

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.template.loader import select_template
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format

from newsletter import scheduling, sending
from newsletter.curation import preflight
from newsletter.models import Delivery, Issue
from subscribers.addresses import mask_in_text

SEND_PERMISSION = "newsletter.send_issue"
VIEW_READERS = "subscribers.view_subscriber"
# The panel's buttons: each one's URL name → the Issue.ACTIONS entry it takes
# (the others, "start", "finish" and "edit", are not buttons).
BUTTONS = {
    "schedule": "schedule",
    "unschedule": "unschedule",
    "send": "send_now",
    "pause": "pause",
    "resume": "resume",
    "cancel": "cancel",
    "resend": "resend",
}
PROBLEMS_SHOWN = 100


# How the issue page writes a time: "Tuesday 1 December 2026, 09:00".
DATETIME = "l j F Y, H:i"


def local_time(issue: Issue, when: datetime | None) -> str:
    """A time as the issue page shows every time: in the newsletter's zone, named."""
    if when is None:
        return ""
    zone = issue.newsletter.time_zone
    return f"{date_format(when.astimezone(zoneinfo.ZoneInfo(zone)), DATETIME)} ({zone})"


class ScheduleForm(forms.Form):
    send_at = forms.DateTimeField(
        label="Send at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class SendingAdminMixin:
    sending_actions = tuple(BUTTONS)

    # -- URLs ---------------------------------------------------------------------

    def get_urls(self):
        site = self.admin_site
        urls = [
            path(
                f"<int:issue_id>/sending/{action}/",
                site.admin_view(self.sending_view),
                {"action": action},
                name=f"newsletter_issue_sending_{action}",
            )
            for action in self.sending_actions
        ]
        progress = path(
            "<int:issue_id>/sending/progress/",
            site.admin_view(self.sending_progress_view),
            name="newsletter_issue_sending_progress",
        )
        return [*urls, progress, *super().get_urls()]

    # -- Permission ---------------------------------------------------------------

    def has_send_permission(self, request, obj: Issue | None = None) -> bool:
        return request.user.has_perm(SEND_PERMISSION) and self.has_view_or_change_permission(
            request, obj
        )

    def _sending_issue(self, request, issue_id: int) -> Issue:
        issue = self.get_object(request, str(issue_id))
        if issue is None:
            raise Http404("No such issue.")
        return issue

    # -- The panel on the issue page ------------------------------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        response = super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )
        if obj is None or obj.pk is None or not isinstance(response, TemplateResponse):
            return response
        names = response.template_name
        response.context_data["sending_base"] = select_template(
            [names] if isinstance(names, str) else names
        )
        response.context_data["sending"] = self.sending_context(request, obj)
        response.template_name = "admin/newsletter/issue/sending_change_form.html"
        return response

    def sending_context(self, request, issue: Issue) -> dict:
        progress = sending.issue_progress(issue=issue)
        problems = Delivery.objects.filter(
            issue=issue, state__in=(Delivery.State.AMBIGUOUS, Delivery.State.FAILED)
        ).select_related("subscriber")
        status = issue.status
        can_send = self.has_send_permission(request, issue)
        S = Issue.Status
        return {
            "issue": issue,
            "can_send": can_send,
            "progress": progress,
            "show_progress": status in (S.SENDING, S.PAUSED, S.SENT, S.CANCELLED),
            "live": status == S.SENDING,
            "send_at": local_time(issue, issue.send_at),
            "sent_at": local_time(issue, issue.sent_at),
            "problems": self._problem_rows(problems, request.user.has_perm(VIEW_READERS)),
            "problem_count": problems.count(),
            # A button where the issue's status allows its action (Issue.ACTIONS).
            **{f"can_{action}": can_send and issue.can(action) for action in BUTTONS.values()},
            "urls": {
                name: reverse(f"admin:newsletter_issue_sending_{name}", args=[issue.pk])
                for name in (*self.sending_actions, "progress")
            },
        }

    @staticmethod
    def _problem_rows(problems, may_see_readers: bool) -> list[dict]:
        """Addresses only for those who may see the readers, in the reader column
        and in the ESP's error alike; the rest see them masked."""
        rows = problems.select_related("subscriber").order_by("state", "subscriber_id")
        shown = (lambda text: text) if may_see_readers else mask_in_text
        return [
            {
                "reader": shown(d.subscriber.email),
                "state": d.state,
                "error": shown(d.error),
                "attempts": d.attempts,
            }
            for d in rows[:PROBLEMS_SHOWN]
        ]

    def sending_progress_view(self, request, issue_id: int):
        issue = self._sending_issue(request, issue_id)
        if not self.has_view_or_change_permission(request, issue):
            raise PermissionDenied
        return JsonResponse(sending.issue_progress(issue=issue).as_dict())

    # -- Actions -------------------------------------------------------------------

    def sending_view(self, request, issue_id: int, action: str):
        issue = self._sending_issue(request, issue_id)
        if not self.has_send_permission(request, issue):
            raise PermissionDenied
        change_url = reverse("admin:newsletter_issue_change", args=[issue.pk])
        if action in ("schedule", "send", "cancel") and request.method == "GET":
            return self._sending_confirm(request, issue, action, form=None)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        form = ScheduleForm(request.POST)
        try:
            done = self._sending_act(issue, action, form)
        except sending.SendingError as exc:
            messages.error(request, str(exc))
            return redirect(change_url)
        if done is None:  # the schedule form has errors
            return self._sending_confirm(request, issue, action, form)
        messages.success(request, done)
        return redirect(change_url)

    def _sending_act(self, issue: Issue, action: str, form: ScheduleForm) -> str | None:
        """Do it; the message for the editor, or None when the schedule form is invalid."""
        number = f"#{issue.number}"
        if action == "schedule":
            with timezone.override(zoneinfo.ZoneInfo(issue.newsletter.time_zone)):
                if not form.is_valid():
                    return None
                when: datetime = form.cleaned_data["send_at"]
                sending.issue_schedule(issue=issue, send_at=when)
                return f"Issue {number} is scheduled for {local_time(issue, when)}."
        if action == "unschedule":
            sending.issue_unschedule(issue=issue)
            return f"Issue {number} is no longer scheduled; it is a draft again."
        if action == "send":
            sending.issue_send_now(issue=issue)
            return f"Issue {number} is being sent."
        if action == "pause":
            sending.issue_pause(issue=issue)
            return f"Sending of {number} is paused; batches already at the ESP still go out."
        if action == "resume":
            sending.issue_resume(issue=issue)
            return f"Sending of {number} resumed."
        if action == "cancel":
            skipped = sending.issue_cancel(issue=issue)
            return f"Issue {number} is cancelled; {skipped} readers will not get it."
        if action == "resend":
            count = sending.resend(issue=issue)
            return f"{count} deliveries of {number} are being sent again."
        raise Http404

    def _sending_confirm(self, request, issue: Issue, action: str, form: ScheduleForm | None):
        with timezone.override(zoneinfo.ZoneInfo(issue.newsletter.time_zone)):
            if form is None:
                form = ScheduleForm(initial={"send_at": scheduling.default_send_at(issue)})
            form_html = form.as_div()  # rendered in the newsletter's zone
        titles = {
            "schedule": f"Schedule #{issue.number}",
            "send": f"Send #{issue.number} now?",
            "cancel": f"Cancel #{issue.number}?",
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": issue,
            "issue": issue,
            "title": titles[action],
            "action": action,
            "form_html": form_html,
            "time_zone": issue.newsletter.time_zone,
            "recipients": sending.recipient_count(issue.newsletter),
            "progress": sending.issue_progress(issue=issue),
            "change_url": reverse("admin:newsletter_issue_change", args=[issue.pk]),
            "action_url": request.path,
            # Before a send or a schedule: what the pre-flight found (blockers hide the button).
            "report": preflight.preflight(issue) if action in ("schedule", "send") else None,
        }
        return TemplateResponse(request, "admin/newsletter/issue/sending_confirm.html", context)

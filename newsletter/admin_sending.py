"""Sending controls for the issue admin (schedule, send now, pause, resume,
cancel, resend ambiguous); mixed into IssueAdmin in newsletter/admin.py."""


class SendingAdminMixin:
    pass

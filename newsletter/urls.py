from django.urls import path

from newsletter import views

urlpatterns = [
    path("archive/", views.archive_index, name="archive"),
    path("archive/<slug:newsletter_slug>/", views.archive_newsletter, name="archive_newsletter"),
    path("archive/<slug:newsletter_slug>/feed/", views.IssueFeed(), name="feed"),
    path("archive/<slug:newsletter_slug>/<slug:issue_slug>/", views.issue_web, name="issue_web"),
    path("outbox/", views.outbox, name="outbox"),
    path("outbox/<str:name>", views.outbox_message, name="outbox_message"),
]

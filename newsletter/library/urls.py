from django.urls import path

from newsletter.library import views

# Before the issue pages' archive/<newsletter>/<issue>/, as the feed's is.
urlpatterns = [
    path("archive/<slug:newsletter_slug>/search/", views.archive_search, name="archive_search"),
    path("archive/<slug:newsletter_slug>/sources/", views.archive_sources, name="archive_sources"),
    path(
        "archive/<slug:newsletter_slug>/most-clicked/",
        views.archive_most_clicked,
        name="archive_most_clicked",
    ),
    path(
        "archive/<slug:newsletter_slug>/links/<int:link_id>/",
        views.archive_link,
        name="archive_link",
    ),
]

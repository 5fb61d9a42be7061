from django.contrib.sitemaps.views import sitemap
from django.urls import include, path, re_path

from newsletter import views
from newsletter.engagement import views as engagement_views
from newsletter.sitemaps import SITEMAPS

urlpatterns = [
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("archive/", views.archive_index, name="archive"),
    path("archive/<slug:newsletter_slug>/", views.archive_newsletter, name="archive_newsletter"),
    path("archive/<slug:newsletter_slug>/feed/", views.IssueFeed(), name="feed"),
    path("", include("newsletter.library.urls")),  # search, link pages, sources
    path("archive/<slug:newsletter_slug>/<slug:issue_slug>/", views.issue_web, name="issue_web"),
    path("l/<str:link_token>/", engagement_views.click, name="click"),
    # An empty reader key (a test email) goes to the link without counting the click.
    re_path(
        r"^l/(?P<link_token>[^/]+)/(?P<recipient_key>[^/]*)/$",
        engagement_views.click,
        name="click_reader",
    ),
    # An empty key (a test email) still reaches the view, which says the link does not work.
    re_path(
        r"^f/(?P<recipient_key>[^/]*)/(?P<answer>[-\w]+)/$",
        engagement_views.feedback,
        name="feedback",
    ),
]

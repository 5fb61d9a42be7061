from django.contrib import admin
from django.urls import include, path

from api.urls import urlpatterns as api_urlpatterns
from config import views
from mail import outbox
from newsletter.engagement.webhooks import webhook_urlpatterns

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("robots.txt", views.robots_txt, name="robots_txt"),
    path("admin/", admin.site.urls),
    path("_nested_admin/", include("nested_admin.urls")),
    *api_urlpatterns,
    # anymail's webhooks, answering 401 without WEBHOOK_SECRET and 400 for bad payloads.
    path("anymail/", include(webhook_urlpatterns())),
    path("", include("newsletter.urls")),
    # The embedded default's sent emails, while DEBUG is on.
    path("outbox/", outbox.outbox, name="outbox"),
    path("outbox/<str:name>", outbox.outbox_message, name="outbox_message"),
    path("", include("subscribers.urls")),
]

handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error

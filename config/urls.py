from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("_nested_admin/", include("nested_admin.urls")),
    path("anymail/", include("anymail.urls")),
    path("", include("newsletter.urls")),
    path("", include("subscribers.urls")),
]

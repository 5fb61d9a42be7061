from django.urls import path

from subscribers import views

urlpatterns = [
    path("subscribe/", views.signup_index, name="signup_index"),
    path("subscribe/<slug:newsletter_slug>/", views.signup, name="signup"),
    path("subscribe/<slug:newsletter_slug>/embed/", views.signup_embed, name="signup_embed"),
    path("confirm/<str:token>/", views.confirm, name="confirm"),
    path("confirm/<str:token>/resend/", views.confirm_resend, name="confirm_resend"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path(
        "unsubscribe/<str:token>/one-click/",
        views.unsubscribe_one_click,
        name="unsubscribe_one_click",
    ),
    path("preferences/<str:token>/", views.preferences, name="preferences"),
    # Reached only through short-lived links emailed from the preferences page.
    path("my-data/<str:token>/", views.my_data, name="my_data"),
    path("erase/<str:token>/", views.erase, name="erase"),
]

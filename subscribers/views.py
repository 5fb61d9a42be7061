from django.http import Http404


def signup_index(request):
    raise Http404


def signup(request, newsletter_slug):
    raise Http404


def confirm(request, token):
    raise Http404


def unsubscribe(request, token):
    raise Http404


def unsubscribe_one_click(request, token):
    raise Http404


def preferences(request, token):
    raise Http404

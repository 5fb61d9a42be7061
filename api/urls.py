"""The REST API, /api/v1/ (django-ninja): its OpenAPI 3 document is served at
/api/v1/openapi.json. Every answer is JSON; every error a problem document."""

from django.urls import path
from ninja import NinjaAPI

from api import problems
from api.content_routes import router as content
from api.subscriber_routes import router as subscribers


class Api(NinjaAPI):
    def get_openapi_schema(self, *args, **kwargs):
        """Errors are application/problem+json, as they are served."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, answer in operation.get("responses", {}).items():
                    content = answer.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content[problems.CONTENT_TYPE] = content.pop("application/json")
        return schema


api = Api(
    title="Letterpress API",
    version="1",
    urls_namespace="api",
    docs_url=None,
    description="Tokens are made in the admin or with `manage.py api_token`; "
    "send them as `Authorization: Bearer lp_…`.",
)
problems.install(api)
api.add_router("/subscribers", subscribers)
api.add_router("/", content)

urlpatterns = [path("api/v1/", api.urls)]

"""Who may call: a bearer token (api.tokens) holding the operation's scope,
within its rate limit. No token or an unknown one: 401; a token without the
scope: 403; over the limit: 429 with Retry-After."""

from django.conf import settings
from ninja.security import HttpBearer

from api import tokens
from api.models import ApiToken
from api.problems import Problem
from subscribers import form_limits

RATE_WINDOW_SECONDS = 60


class TokenWithScope(HttpBearer):
    def __init__(self, scope: str):
        super().__init__()
        self.scope = scope

    def authenticate(self, request, token: str) -> ApiToken | None:
        found = tokens.token_for(token)
        if found is None:
            return None
        if not tokens.allows(found, self.scope):
            raise Problem(
                403, f"This token does not have the {self.scope} scope.", kind="missing-scope"
            )
        if not form_limits.allow(
            "api",
            str(found.pk),
            limit=settings.API_RATE_PER_MINUTE,
            window=RATE_WINDOW_SECONDS,
        ):
            raise Problem(
                429,
                f"At most {settings.API_RATE_PER_MINUTE} requests a minute per token.",
                kind="rate-limited",
                headers={"Retry-After": str(RATE_WINDOW_SECONDS)},
            )
        return found


READ = TokenWithScope(ApiToken.Scope.READ)
SUBSCRIBERS = TokenWithScope(ApiToken.Scope.SUBSCRIBERS)
AUTHORING = TokenWithScope(ApiToken.Scope.AUTHORING)

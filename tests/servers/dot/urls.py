"""DOT under /o/, RFC 8414's path-inserted metadata at the origin, the login page, one protected API."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from oauth2_provider import urls as dot_urls
from oauth2_provider.views import ProtectedResourceView


class Me(ProtectedResourceView):
    """DOT's default resource view: a bad or missing token gets a bare 403."""

    def verify_request(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        valid, oauth_request = super().verify_request(request)
        request.oauth = oauth_request  # type: ignore[attr-defined]
        return valid, oauth_request

    def get(self, request: HttpRequest) -> JsonResponse:
        token = request.oauth.access_token  # type: ignore[attr-defined]
        user = token.user
        return JsonResponse({"sub": user.username if user else None, "client_id": token.application.client_id,
                             "scope": token.scope})


urlpatterns = [
    path("o/", include(dot_urls)),
    path("", include((dot_urls.metadata_urlpatterns, "root_metadata"))),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="registration/login.html")),
    path("api/me", Me.as_view()),
]

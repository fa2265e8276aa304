"""A small protected JSON API to spend tokens on.

Tokens may arrive in the ``Authorization: Bearer`` header or as the
``access_token`` query parameter. ``/api/items`` is a deterministic,
paginated list of 95 items so paging code has something real to walk.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request, url_for
from flask.typing import ResponseReturnValue

from .constants import ITEM_COUNT, PATHS
from .context import current_context
from .models import Token
from .oauth import DemoResourceProtector

bp = Blueprint("api", __name__)

CATEGORIES = ("books", "games", "music", "tools", "toys")
MAX_PER_PAGE = 100


def make_item(item_id: int) -> dict[str, Any]:
    """Item ``item_id``, always the same so tests can assert on content."""
    return {
        "id": item_id,
        "name": f"Item {item_id}",
        "category": CATEGORIES[item_id % len(CATEGORIES)],
        "price": round(item_id * 1.25, 2),
        "in_stock": item_id % 3 != 0,
    }


def _protector() -> DemoResourceProtector:
    protector = current_context().resource_protector
    assert protector is not None
    return protector


def _bad_request(description: str) -> ResponseReturnValue:
    return jsonify({"error": "invalid_request", "error_description": description}), 400


def _int_arg(name: str, default: int) -> int | None:
    value = request.args.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        return None


@bp.get(PATHS["api_me"])
@bp.get("/api/user")  # GitHub's name for the same thing, so GitHub examples run against the demo
def me() -> ResponseReturnValue:
    """Who the token speaks for; client tokens speak for the client itself."""
    token = _protector().require()
    user = token.get_user()
    return jsonify(
        {
            "sub": user.username if user else token.client_id,
            "login": user.username if user else token.client_id,
            "name": user.name if user else None,
            "email": user.email if user else None,
            "scope": token.scope,
            "client_id": token.client_id,
        }
    )


@bp.get(PATHS["api_items"])
def list_items() -> ResponseReturnValue:
    """Page through the items; ``next``/``prev`` are absolute URLs and never carry the token."""
    _protector().require("items:read")
    page = _int_arg("page", 1)
    per_page = _int_arg("per_page", 10)
    if page is None or page < 1:
        return _bad_request("'page' must be a positive integer.")
    if per_page is None or not 1 <= per_page <= MAX_PER_PAGE:
        return _bad_request(f"'per_page' must be between 1 and {MAX_PER_PAGE}.")
    first = (page - 1) * per_page + 1
    last = min(first + per_page - 1, ITEM_COUNT)
    items = [make_item(i) for i in range(first, last + 1)]

    def page_url(number: int) -> str:
        return url_for("api.list_items", page=number, per_page=per_page, _external=True)

    body = {
        "items": items,
        "page": page,
        "per_page": per_page,
        "total": ITEM_COUNT,
        "next": page_url(page + 1) if last < ITEM_COUNT else None,
        "prev": page_url(page - 1) if page > 1 else None,
    }
    response = jsonify(body)
    links = [f'<{body[rel]}>; rel="{rel}"' for rel in ("next", "prev") if body[rel]]
    if links:
        response.headers["Link"] = ", ".join(links)
    return response


@bp.post(PATHS["api_items"])
def create_item() -> ResponseReturnValue:
    """Echo a new item back with an id; nothing is stored."""
    token: Token = _protector().require("items:write")
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return _bad_request("Send a JSON object with a string 'name'.")
    owner = token.user.username if token.user else token.client_id
    item = {**data, "id": current_context().store.next_item_id(), "owner": owner}
    return jsonify(item), 201


@bp.route(PATHS["api_echo"], methods=["GET", "POST"])
def echo() -> ResponseReturnValue:
    """Report where the token arrived and what came with it, masking the token.

    Deliberately does not reject bad tokens, so callers can inspect any
    request; ``token_valid`` says whether the token would be accepted.
    """
    location: str | None = None
    scheme: str | None = None
    value = ""
    authorization = request.headers.get("Authorization", "")
    if authorization:
        location = "header"
        scheme, _, value = authorization.partition(" ")
        value = value.strip()
    elif request.args.get("access_token"):
        location, value = "query", request.args["access_token"]
    elif request.method == "POST" and request.form.get("access_token"):
        location, value = "body", request.form["access_token"]

    token = current_context().store.find_access(value) if value else None
    valid = token is not None and not token.is_expired() and not token.is_revoked()
    return jsonify(
        {
            "method": request.method,
            "token_location": location,
            "auth_scheme": scheme,
            "token_prefix": value[:6] if value else None,
            "token_valid": valid,
            "query": {k: v for k, v in request.args.items() if k != "access_token"},
            "headers": {
                k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "cookie")
            },
        }
    )

"""The form's Advanced Options tab: Postman's rows first, then the modern-security fields in groups.

Each group sits under its own heading, and the heading hides with its rows: a Token Exchange heading
with nothing under it would only puzzle someone filling an Authorization Code form.
"""

from __future__ import annotations

from collections.abc import Mapping

import ipywidgets as widgets

from .form_fields import FieldRow, heading, set_visible

#: (heading, fields) in the order they are shown; an empty heading puts the rows straight on the tab.
ADVANCED_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("", ("refresh_token_url", "revocation_url", "auth_request_params", "token_request_params",
          "refresh_request_params")),
    ("Audience and Resource", ("audience", "resource", "allow_insecure_http")),
    ("Security Profile", ("security_profile",)),
    ("Signed Client Authentication and Request Objects", ("client_assertion_key", "client_assertion_kid",
                                                          "client_assertion_alg")),
    ("Sender-Constrained Tokens (DPoP)", ("dpop", "dpop_alg")),
    ("Pushed and Signed Authorization Requests", ("use_par", "par_url", "request_object")),
    ("Token Exchange", ("subject_token", "subject_token_name", "subject_token_type", "actor_token",
                        "actor_token_type", "requested_token_type")),
    ("Introspection and Userinfo", ("introspection_url", "userinfo_url")),
)
ADVANCED: tuple[str, ...] = tuple(name for _, names in ADVANCED_GROUPS for name in names)


class AdvancedTab:
    """The tab's box, and the groups whose heading follows their rows."""

    def __init__(self, rows: Mapping[str, FieldRow]) -> None:
        self._groups: list[tuple[widgets.VBox, list[FieldRow]]] = []
        children: list[widgets.Widget] = []
        for title, names in ADVANCED_GROUPS:
            members = [rows[n] for n in names]
            if not title:
                children += [r.box for r in members]
                continue
            group = widgets.VBox([heading(title), *[r.box for r in members]])
            group.add_class("nb-oauth-group-" + "-".join(title.lower().replace("(", "").replace(")", "").split()))
            self._groups.append((group, members))
            children.append(group)
        self.box = widgets.VBox(children)
        self.box.add_class("nb-oauth-advanced")

    def update(self, grant: str) -> None:
        """Hide a group's heading when none of its rows applies to ``grant``."""
        for group, members in self._groups:
            set_visible(group, any(r.applies_to(grant) for r in members))

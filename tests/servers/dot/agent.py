"""A scripted user agent for the django-oauth-toolkit pages: ``BROWSER="python -m tests.servers.dot.agent %s"``.

It reuses the demo robot's page walk (cookies, same-origin redirects, delivery to the redirect URI)
and knows DOT's own pages: Django's sign-in form, DOT's "Authorize" form (an ``allow`` submit), the
device user-code form and the device Accept/Deny form (an ``action`` button).
"""

from __future__ import annotations

import sys

from nb_oauth.demo.robot import Form, PageParser, Robot, RobotError, RobotResult

from . import PASSWORD, USER


class DotAgent(Robot):
    def _pick_form(self, page: PageParser) -> tuple[Form | None, str]:
        for form in page.forms:
            if form.has_field("username") and form.has_field("password"):
                return form, "login"
            if form.button("allow", "Authorize"):
                return form, "consent"
            if form.button("action", "accept"):
                return form, "device consent"
            if form.field_types.get("user_code", "hidden") != "hidden":
                return form, "user code"
        return None, ""

    def _submit(self, form: Form, kind: str, current: str) -> tuple[str, str, list[tuple[str, str]] | None]:
        if kind == "consent":
            if self.consent != "allow":  # DOT's Cancel button carries no name
                return "POST", current, list(form.fields)
            return "POST", current, [*form.fields, ("allow", "Authorize")]
        if kind == "device consent":
            return "POST", current, [*form.fields, ("action", "accept" if self.consent == "allow" else "deny")]
        return super()._submit(form, kind, current)

    def _finish(self, page: PageParser, response, url: str) -> RobotResult:  # type: ignore[no-untyped-def]
        if "/o/device-grant-status/" in url and response.status_code == 200:
            return self._result(True, "device decision recorded", url, response)
        return super()._finish(page, response, url)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    import os

    agent = DotAgent(USER, PASSWORD, os.environ.get("NB_OAUTH_ROBOT_CONSENT", "allow"), None, None, 10.0)
    try:
        result = agent.run(argv[0])
    except RobotError as exc:
        print(f"dot agent: {exc}", file=sys.stderr)
        return 1
    finally:
        agent.session.close()
    if not result.ok:
        print(f"dot agent: {result.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

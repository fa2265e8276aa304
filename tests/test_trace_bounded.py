"""A token's trace stays bounded however often it is refreshed, and stays masked."""

from __future__ import annotations

import json

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth._trace import REFRESH_STEPS_KEPT, TOKEN_SETS_HELD
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET
from nb_oauth.display.trace_view import render_text

REFRESHES = 3 * REFRESH_STEPS_KEPT


def test_many_refreshes_keep_the_first_flow_and_the_last_refreshes_only(demo) -> None:
    cfg = OAuth2Config(token_name="busy", grant_type="password_credentials", access_token_url=demo.url + "/token",
                       client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                       username="alice", password="wonderland", scope="profile items:read")
    token = nb_oauth.get_new_access_token(cfg)
    trace = token.trace
    first_flow = [s.title for s in trace.steps]
    assert first_flow and trace.dropped == 0
    seen_secrets: set[str] = set(token.token_set.secrets())
    for _ in range(REFRESHES):
        token.refresh()
        seen_secrets.update(token.token_set.secrets())
    steps = trace.steps
    assert [s.title for s in steps[:len(first_flow)]] == first_flow  # the first flow, whole
    assert len(steps) == len(first_flow) + REFRESH_STEPS_KEPT
    assert trace.dropped == REFRESHES - REFRESH_STEPS_KEPT
    assert steps[-1].title == "Refresh request" and steps[-1].status == 200
    # masking knows the flow's own secrets and those of the token sets still held, not every one ever issued
    assert trace.secret_count <= 2 + TOKEN_SETS_HELD * 3
    assert len(seen_secrets) > 2 * REFRESHES
    text = json.dumps(trace.to_dict()) + render_text(trace) + repr(trace)
    for secret in (*token.token_set.secrets(), CONFIDENTIAL_CLIENT_SECRET, "wonderland"):
        assert secret not in text
    assert f"{trace.dropped} older refresh steps not kept" in repr(trace)


def test_the_refresh_that_spends_a_refresh_token_still_masks_it(demo) -> None:
    cfg = OAuth2Config(token_name="spent", grant_type="password_credentials", access_token_url=demo.url + "/token",
                       client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                       username="alice", password="wonderland", scope="profile")
    token = nb_oauth.get_new_access_token(cfg)
    spent = [token.refresh_token]
    for _ in range(5):
        token.refresh()
        spent.append(token.refresh_token)
    last_step = json.dumps(token.trace.steps[-1].to_dict())
    for value in spent[-2:]:
        assert value and value not in last_step


def test_a_step_is_masked_with_the_secrets_known_when_it_was_recorded() -> None:
    """Steps are masked when first read, but against the secrets of their own time: a token set let go
    since (masking holds only the last few) still never shows in the step that carried it."""
    from nb_oauth._trace import Trace

    trace = Trace("client_credentials", "t")
    old = "old-access-token-" + "x" * 20
    trace.hold_token_secrets(old)
    trace.record("Token request", "notebook", "server", note=f"the server sent {old}", url=f"https://as/cb#{old}",
                 params=[("custom", old)], response={"nested": {"value": old}})
    for i in range(TOKEN_SETS_HELD + 2):  # newer token sets push the old one out of what masking holds
        trace.hold_token_secrets(f"newer-token-{i}-" + "y" * 20)
    assert trace.secret_count == TOKEN_SETS_HELD
    shown = json.dumps(trace.to_dict()) + render_text(trace) + repr(trace)
    assert old not in shown and "old-" in shown  # masked, its first characters shown

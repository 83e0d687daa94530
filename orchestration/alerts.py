"""Where a failed run is reported: Slack and Microsoft Teams through Dagster's own integrations (dagster-slack,
dagster-msteams), and a plain JSON webhook for anything else (PagerDuty, a relay). Settings come from the
environment (orchestration/settings.py), read when a run fails."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime

from orchestration.settings import Settings


def send_alerts(settings: Settings, text: str) -> list[str]:
    """Post `text` to every configured destination: Slack (dagster-slack's client), Microsoft Teams
    (dagster-msteams' client and card) and the plain JSON webhook (PagerDuty, a relay, anything else).
    Returns the destinations that failed; one failing does not keep the others from being told."""
    failed: list[str] = []
    if settings.slack_token and settings.slack_channel:
        from dagster_slack import SlackResource

        try:
            SlackResource(token=settings.slack_token.get_secret_value()).get_client().chat_postMessage(
                channel=settings.slack_channel, text=text
            )
        except Exception as error:  # slack_sdk raises SlackApiError, network errors are requests'/urllib's
            failed.append(f"Slack channel {settings.slack_channel} (CSOPS_SLACK_TOKEN / CSOPS_SLACK_CHANNEL): {error}")
    if settings.teams_webhook_url:
        from dagster_msteams import MSTeamsResource
        from dagster_msteams.adaptive_card import AdaptiveCard
        from dagster_msteams.card import Card

        client = MSTeamsResource(hook_url=settings.teams_webhook_url).get_client()
        card = Card() if client.is_legacy_webhook() else AdaptiveCard()
        card.add_attachment(text)
        try:
            client.post_message(card.payload)
        except Exception as error:
            failed.append(f"Microsoft Teams webhook (CSOPS_TEAMS_WEBHOOK_URL): {error}")
    if settings.alert_webhook_url:
        body = json.dumps({"text": text, "at": datetime.now(UTC).isoformat()}).encode()
        request = urllib.request.Request(
            settings.alert_webhook_url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except OSError as error:
            failed.append(f"alert webhook (CSOPS_ALERT_WEBHOOK_URL): {error}")
    return failed

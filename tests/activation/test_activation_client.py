"""The HTTP layer on its own: the allow-list at the adapter's edge, configuration."""

from __future__ import annotations

import pytest

from activation.config import ConfigError, SyncConfig
from activation.crm.base import AccountUpdate, CrmError
from activation.crm.hubspot import HubSpotCrm
from activation.fields import DisallowedFieldError
from ingestion.rate_limit import Limit


def test_the_adapter_refuses_fields_outside_the_allow_list_before_sending_anything() -> None:
    crm = HubSpotCrm(SyncConfig(access_token="x", base_url="http://127.0.0.1:9"))
    with pytest.raises(DisallowedFieldError, match="hubspot_owner_id"):
        crm.update_accounts([AccountUpdate("1", {"cs_at_risk": "true", "hubspot_owner_id": "42"})])
    assert crm.requests_sent == 0


def test_no_token_is_a_clear_error() -> None:
    with pytest.raises(CrmError, match="ACTIVATION__HUBSPOT__ACCESS_TOKEN"):
        HubSpotCrm(SyncConfig(access_token=None))


def test_configuration_comes_from_the_environment_with_fallbacks() -> None:
    config = SyncConfig.from_env({"SOURCES__HUBSPOT__ACCESS_TOKEN": "pat-1", "SOURCES__HUBSPOT__BASE_URL": "http://x/"})
    assert config.access_token == "pat-1" and config.base_url == "http://x"
    assert config.rate_limit == Limit(150, 10.0) and config.max_change_share == 0.25
    assert SyncConfig.from_env({}).base_url == "https://api.hubapi.com"
    config = SyncConfig.from_env(
        {
            "ACTIVATION__HUBSPOT__ACCESS_TOKEN": "pat-2",
            "SOURCES__HUBSPOT__ACCESS_TOKEN": "pat-1",
            "ACTIVATION__HUBSPOT__RATE_LIMIT": "90/10",
            "CSOPS_SYNC_MAX_CHANGE_SHARE": "0.1",
            "CSOPS_SYNC_LIST_NAME": "Red accounts",
        }
    )
    assert (config.access_token, config.rate_limit, config.max_change_share, config.list_name) == (
        "pat-2",
        Limit(90, 10.0),
        0.1,
        "Red accounts",
    )
    assert "pat-2" not in repr(config) and "pat-2" not in str(config)
    with pytest.raises(ConfigError, match="CSOPS_SYNC_MAX_CHANGE_SHARE"):
        SyncConfig.from_env({"CSOPS_SYNC_MAX_CHANGE_SHARE": "25%"})
    with pytest.raises(ConfigError, match="ACTIVATION__HUBSPOT__RATE_LIMIT"):
        SyncConfig.from_env({"ACTIVATION__HUBSPOT__RATE_LIMIT": "fast"})

from __future__ import annotations

from django.test import override_settings


@override_settings(PCF_RATE_LIMIT="3/min")
def test_a_tenant_over_its_rate_gets_429_with_retry_after(tenant, other_tenant) -> None:
    # given a limit of 3 requests a minute, and 3 requests used
    for _ in range(3):
        assert tenant.api.get("/v1/resources").status_code == 200
    # when the tenant sends a fourth
    response = tenant.api.get("/v1/resources")
    # then it is refused in the contract shape, with a time to wait
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert int(response["Retry-After"]) >= 1
    # and another tenant is not affected
    assert other_tenant.api.get("/v1/resources").status_code == 200


@override_settings(PCF_RATE_LIMIT="")
def test_an_empty_rate_turns_the_limit_off(tenant) -> None:
    for _ in range(5):
        assert tenant.api.get("/v1/resources").status_code == 200

"""Reads refuse ids no store can hold, with the field named, on every store.

PostgreSQL refuses a NUL inside text outright (a DataError, once a 500 from the API); every
read names the field, the value and what is allowed instead, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gencredits.billing import Billing
from gencredits.errors import InvalidRequest

READS: dict[str, Callable[[Billing, str], Any]] = {
    "get_wallet": lambda b, v: b.get_wallet(v),
    "list_grants": lambda b, v: b.list_grants(v),
    "list_jobs": lambda b, v: b.list_jobs(v),
    "history": lambda b, v: b.history(v),
    "get_job": lambda b, v: b.get_job(v),
}


@pytest.mark.parametrize("read", sorted(READS))
@pytest.mark.parametrize("bad", ["w\x00", "", "x" * 201, "tab\there"])
def test_a_read_names_the_field_for_an_id_no_store_can_hold(
    billing: Billing, read: str, bad: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        READS[read](billing, bad)
    assert info.value.details["field"] in ("wallet_id", "job_id")
    assert info.value.http_status == 422

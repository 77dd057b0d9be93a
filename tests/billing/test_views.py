"""Wire types: built from ledger records as ``model_construct`` would build them; quotes
stored by earlier versions read with today's names.

The wire types built from ledger records are what ``model_construct`` would build.

``views._Wire._built`` sets a view's slots itself (half the cost of ``model_construct``);
these tests hold each ``of`` equal to ``model_construct`` of the same fields: the values,
their order (the JSON key order follows it), the fields set, and pydantic's other slots.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from gencredits.billing import Billing
from gencredits.billing.views import EntryView, GrantView, JobView, PostingView, with_line_credits
from gencredits.ledger.memory import MemoryStore
from gencredits.pricing import CatalogSet, quote


def _built_views() -> list[BaseModel]:
    billing = Billing(MemoryStore())
    billing.create_wallet("w")
    grant = billing.grant("w", 1_000, kind="purchase", idempotency_key="g")
    held = billing.submit("w", "veo3_fast", catalog="api-pricing", idempotency_key="s")
    done = billing.complete(held.id, idempotency_key="c")
    failed = billing.fail(
        billing.submit("w", "veo3_fast", catalog="api-pricing", idempotency_key="s2").id,
        reason="provider down",
        idempotency_key="f",
    )
    entries = billing.history("w", limit=10).items
    replayed = billing.complete(held.id, idempotency_key="c")
    return [grant, held, done, failed, replayed, *entries, *entries[0].postings]


VIEWS = _built_views()


def _slots(view: BaseModel) -> dict[str, Any]:
    return {
        "dict": list(view.__dict__.items()),
        "fields_set": view.model_fields_set,
        "extra": view.__pydantic_extra__,
        "private": view.__pydantic_private__,
    }


def test_every_kind_of_view_is_covered() -> None:
    kinds = {type(v) for v in VIEWS}
    assert kinds == {GrantView, JobView, EntryView, PostingView}
    assert any(isinstance(v, JobView) and v.replayed for v in VIEWS)


@pytest.mark.parametrize("view", VIEWS, ids=lambda v: type(v).__name__)
def test_a_built_view_is_what_model_construct_builds(view: BaseModel) -> None:
    assert set(view.__dict__) == set(type(view).model_fields)  # every field given
    constructed = type(view).model_construct(**view.__dict__)
    assert _slots(view) == _slots(constructed)
    assert view == constructed
    assert view.model_dump_json() == constructed.model_dump_json()  # same keys, same order
    assert type(view).model_validate(view.model_dump()) == view  # the values are valid


def test_a_quote_stored_before_line_credits_reads_with_both_names() -> None:
    today = quote(CatalogSet.bundled(), "kling/v2-1-pro", {"duration": 10}).to_dict()
    assert all(line["line_credits"] == line["credits"] for line in today["breakdown"])
    stored = {
        **today,
        "breakdown": [
            {k: v for k, v in ln.items() if k != "line_credits"} for ln in today["breakdown"]
        ],
    }
    assert with_line_credits(stored) == today
    assert with_line_credits(today) == today
    assert with_line_credits({"total_credits": 5}) == {"total_credits": 5}

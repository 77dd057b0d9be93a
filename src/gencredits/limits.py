"""Every bound on what a caller may send, in one place ("put a limit on everything").

The embedded library (:mod:`gencredits.billing.inputs`), the HTTP request schemas
(:mod:`gencredits.api.schemas`) and the CLI all read these names, so the three faces accept
and refuse exactly the same things.  Units go last in names: ``_s`` seconds, ``_len``
characters, ``_bytes`` bytes.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = [
    "AMOUNT_MAX",
    "API_KEY_NAME_LEN_MAX",
    "BODY_BYTES_MAX",
    "CURSOR_LEN_MAX",
    "EVENTS_PAGE_MAX",
    "EXTRA_CHARGE_SHARE_MAX",
    "EXTRA_CHARGE_SHARE_PLACES",
    "FREE_KIND_LEN_MAX",
    "GENERATIONS_ACTUAL_MAX",
    "GENERATIONS_MAX",
    "GRANT_KIND_LEN_MAX",
    "HOLD_TTL_S_DEFAULT",
    "HOLD_TTL_S_MAX",
    "IDEMPOTENCY_RETENTION_DAYS_DEFAULT",
    "IDEMPOTENCY_RETENTION_DAYS_MIN",
    "ID_LEN_MAX",
    "JOB_ID_LEN_MAX",
    "KEY_LEN_MAX",
    "LABEL_LEN_MAX",
    "METADATA_KEYS_MAX",
    "METADATA_KEY_LEN_MAX",
    "METADATA_VALUE_LEN_MAX",
    "OUTBOX_RETENTION_DAYS_DEFAULT",
    "OUTBOX_RETENTION_DAYS_MIN",
    "PAGE_MAX",
    "PARAMS_MAX",
    "PARAM_NAME_LEN_MAX",
    "PARAM_VALUE_LEN_MAX",
    "PRIORITY_MAX",
    "PROJECT_STEPS_MAX",
    "PROJECT_STEP_COUNT_MAX",
    "REASON_LEN_MAX",
    "RETENTION_BATCH",
    "RETENTION_BATCHES",
    "SWEEP_BATCH",
    "SWEEP_ITEMS_MAX",
    "UNIT_RETRIES",
    "WALLET_EXPIRIES",
    "WALLET_GRANTS_INLINE",
]

#: Ids a caller chooses (wallets, sources, submitters) and catalog/model names.
ID_LEN_MAX = 200
#: Ids the service makes and a caller sends back (jobs, grants).
JOB_ID_LEN_MAX = 64
#: An ``Idempotency-Key``.
KEY_LEN_MAX = 200
#: Credits in one grant, one overdraft limit, one balance.
AMOUNT_MAX = 10**15
#: A grant's spend priority (lower is spent first).
PRIORITY_MAX = 1000
GRANT_KIND_LEN_MAX = 20
#: The zero-cost usage kind of a recorded free job (scheduling, publishing, ...).
FREE_KIND_LEN_MAX = 40

#: A job's settings: how many, how long a name, how long a text value.
PARAMS_MAX = 20
PARAM_NAME_LEN_MAX = 50
PARAM_VALUE_LEN_MAX = 100
#: Generations asked for in one request, and reported by a completion.
GENERATIONS_MAX = 1000
GENERATIONS_ACTUAL_MAX = 10_000
#: A job's free-form metadata.
METADATA_KEYS_MAX = 20
METADATA_KEY_LEN_MAX = 50
METADATA_VALUE_LEN_MAX = 500
#: A failure's reason.
REASON_LEN_MAX = 500

#: A project quote: how many steps, how many of one step, how long a step's label.
PROJECT_STEPS_MAX = 200
PROJECT_STEP_COUNT_MAX = 10_000
LABEL_LEN_MAX = 200
#: The name of an API key.
API_KEY_NAME_LEN_MAX = 100

#: What a completion may charge beyond its hold, as a share of the quote (a Decimal, rounded
#: down): at most ten times the quote, with at most six decimal places.
EXTRA_CHARGE_SHARE_MAX = Decimal(10)
EXTRA_CHARGE_SHARE_PLACES = 6

#: Holds: the ledger's ceiling on a hold's time limit (a week), and the default (an hour).
HOLD_TTL_S_MAX = 7 * 24 * 3600
HOLD_TTL_S_DEFAULT = 3600

#: Pages.
PAGE_MAX = 500
EVENTS_PAGE_MAX = 10 * PAGE_MAX
CURSOR_LEN_MAX = 200

#: A wallet read's bounded parts: the soonest expiries it lists, and the grants it still
#: lists inline (deprecated ``grants``: the next to be spent; every grant is listed, paged,
#: by ``GET /v1/wallets/{id}/grants``).
WALLET_EXPIRIES = 5
WALLET_GRANTS_INLINE = 5

#: Request bodies over HTTP.
BODY_BYTES_MAX = 1024 * 1024

#: The sweep: items per page, items per call.
SWEEP_BATCH = 500
SWEEP_ITEMS_MAX = 10_000
#: How long an idempotency record is kept (a retry within it replays the first answer): the
#: default and the shortest an operator may set (docs/ledger.md, "Retention").
IDEMPOTENCY_RETENTION_DAYS_DEFAULT = 30
IDEMPOTENCY_RETENTION_DAYS_MIN = 7
#: How long an outbox event is kept once every consumer (the webhook deliverer, each relay)
#: has passed it: what a reader of the events feed has to catch up (docs/ledger.md).
OUTBOX_RETENTION_DAYS_DEFAULT = 7
OUTBOX_RETENTION_DAYS_MIN = 1
#: Retention deletes: rows per statement, statements per sweep call.
RETENTION_BATCH = 1000
RETENTION_BATCHES = 5
#: Attempts of one unit of work before ``unavailable`` (contention, a lost connection).
UNIT_RETRIES = 20

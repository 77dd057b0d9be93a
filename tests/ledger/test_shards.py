"""Shard buckets: PostgreSQL's hashtext in Python, checked against the real server; the bucket
in job and grant ids, read back; ids made before ids carried one still read as ``None``."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from gencredits.billing.ids import (
    digest,
    grant_id_for,
    job_id_for,
    refund_grant_id,
    seat_grant_id,
)
from gencredits.ledger.store import UnitHints
from gencredits.shards import (
    BUCKETS,
    bucket_of,
    bucket_of_id,
    check_shard_count,
    hashtext,
    shard_of,
)

INT32_MIN = -(2**31)
AT = datetime(2026, 1, 1, tzinfo=UTC)


def _strings() -> list[str]:
    """Empty, every length from 1 to 200 (so every length mod 12, the hash's block size),
    unicode of 2, 3 and 4 bytes a character, NUL-free control characters, and ids the tests
    and the service use."""
    rng = random.Random(16)
    alphabet = "abcXYZ019_-:/.é€😀\u00ff\u0100\u07ff\u0800\uffef\U00010000\x01\x7f "
    out = ["", "w", "w1", "w2", "plug", "user-42", "team-1", "acme/studio"]
    out += ["x" * n for n in range(1, 201)]
    out += ["".join(rng.choice(alphabet) for _ in range(n)) for n in range(1, 201)]
    out += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 64))) for _ in range(1500)]
    out += [f"w{i}" for i in range(500)]
    out += [job_id_for(AT, "w1", f"k{i}") for i in range(100)]
    out += [grant_id_for("w1", f"k{i}") for i in range(100)]
    out += ["job_" + digest("job", "w1", "old"), "gr_" + digest("grant", "w1", "old")]
    return out


def test_hashtext_without_a_server_matches_values_the_server_gave() -> None:
    """Pinned from PostgreSQL 15 (``SELECT hashtext(x)``), so this half runs anywhere."""
    assert hashtext("") == -1477818771
    assert hashtext("a") == 1075015857
    assert hashtext("abcd") == -393934804
    assert hashtext("hello world!") == 1400155871  # one whole 12-byte block
    assert hashtext("hello world!!") == -2118108552
    assert hashtext("w1") == -2118909538
    assert hashtext("Ünïcødé ✓ 🎉") == 488134443


def test_hashtext_and_the_citus_shard_of_every_string_match_postgresql(postgres_url: str) -> None:
    """The server's own ``hashtext`` (on text and on varchar, the wallet id column's type)
    for a few thousand strings; then each power-of-two shard count's shard, computed the way
    Citus places a hash value ((hash - INT32_MIN) / (2**32 / shard_count)), equals
    ``shard_of(bucket_of(x), shard_count)``."""
    strings = _strings()
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT x, hashtext(x), hashtext(CAST(x AS varchar)) "
                "FROM unnest(CAST(:xs AS text[])) WITH ORDINALITY AS t(x, i) ORDER BY i"
            ),
            {"xs": strings},
        ).all()
    engine.dispose()
    assert [r[0] for r in rows] == strings
    wrong = [(x, server, hashtext(x)) for x, server, _ in rows if server != hashtext(x)]
    assert wrong == []
    assert all(as_text == as_varchar for _, as_text, as_varchar in rows)
    for x, server, _ in rows:
        for k in range(11):
            count = 2**k
            assert shard_of(bucket_of(x), count) == (server - INT32_MIN) // (2**32 // count)


def test_buckets_spread_wallets_evenly() -> None:
    counts = [0] * 4
    for i in range(4000):
        counts[shard_of(bucket_of(f"wallet-{i}"), 4)] += 1
    assert all(900 < c < 1100 for c in counts), counts
    assert {bucket_of(f"w{i}") for i in range(20_000)} == set(range(BUCKETS))


def test_job_and_grant_ids_carry_the_wallet_bucket_and_keep_sorting_by_time() -> None:
    later = datetime(2026, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)
    for wallet in ("w1", "user-42", "é😀"):
        job, grant = job_id_for(AT, wallet, "k"), grant_id_for(wallet, "k")
        assert (len(job), len(grant)) == (31, 30)
        assert bucket_of_id(job) == bucket_of_id(grant) == bucket_of(wallet)
        assert bucket_of_id(seat_grant_id(wallet, "seat/m/2026-01-01")) == bucket_of(wallet)
        assert bucket_of_id(refund_grant_id(job, "ignored")) == bucket_of(wallet)
        assert job_id_for(AT, wallet, "k") == job  # deterministic
        assert job < job_id_for(later, wallet, "a")
    # jobs of many wallets in one millisecond sort after the previous millisecond's
    assert max(job_id_for(AT, f"w{i}", "k") for i in range(50)) < min(
        job_id_for(later, f"w{i}", "k") for i in range(50)
    )


def test_ids_made_before_ids_carried_a_bucket_read_as_none() -> None:
    old_job = "job_" + f"{1_767_225_600_000:011x}" + digest("job", "w1", "k")[:13]
    oldest_job = "job_" + digest("job", "w1", "k")  # before ids sorted by time
    old_grant = "gr_" + digest("grant", "w1", "k")
    for made in (old_job, oldest_job, old_grant, "job_1", "gr_1", "", "w1", "sub_abc"):
        assert bucket_of_id(made) is None, made
    new = job_id_for(AT, "w1", "k")
    assert bucket_of_id(new.upper()) is None  # not what the service makes
    assert bucket_of_id("job_" + "0" * 11 + "400" + "0" * 13) is None  # bucket 1024: none
    assert bucket_of_id("gr_3ff" + "0" * 24) == 1023
    # a refund of an old job takes its wallet's bucket, and stays deterministic
    assert bucket_of_id(refund_grant_id(old_job, "w1")) == bucket_of("w1")
    assert refund_grant_id(old_job, "w1") == refund_grant_id(old_job, "w1")


def test_unit_hints_name_the_bucket_without_a_read() -> None:
    job = job_id_for(AT, "w7", "k")
    assert UnitHints(wallet_id="w7").bucket == bucket_of("w7")
    assert UnitHints(job_id=job).bucket == bucket_of("w7")
    assert UnitHints(grant_id=grant_id_for("w7", "g")).bucket == bucket_of("w7")
    assert UnitHints().bucket is None
    assert UnitHints(job_id="job_" + digest("job", "w7", "k")).bucket is None


@pytest.mark.parametrize("bad", [-1, 3, 6, 1000, 2048, True])
def test_a_shard_count_is_0_or_a_power_of_two_up_to_1024(bad: int) -> None:
    with pytest.raises(ValueError, match="power of two"):
        check_shard_count(bad)
    assert [check_shard_count(n) for n in (0, 1, 2, 1024)] == [0, 1, 2, 1024]
    assert shard_of(1023, 1) == 0
    assert (shard_of(511, 2), shard_of(512, 2), shard_of(1023, 1024)) == (0, 1, 1023)
    with pytest.raises(ValueError, match="bucket"):
        shard_of(BUCKETS, 4)

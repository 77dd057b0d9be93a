"""Shard buckets: where a wallet (and every job and grant of it) lives when the ledger is
sharded by wallet.

Citus hash-distributes a ``text`` column by the type's default hash function, PostgreSQL's
``hashtext()`` (a signed 32-bit integer), and gives shard ``i`` of ``n`` the ``i``-th of ``n``
equal slices of the 32-bit range.  A wallet's **bucket** is the top 10 bits of its hash
(``(hashtext(w) + 2**31) >> 22``, one of :data:`BUCKETS`), so for any power-of-two shard
count ``2**k`` its shard is ``bucket >> (10 - k)``: what Citus computes, without a database.

Job and grant ids carry their wallet's bucket (:mod:`gencredits.billing.ids`), so a lookup by
id can be routed to one shard; :func:`bucket_of_id` reads it back (``None`` for ids made
before ids carried one).  Assumes the distribution column's collation is deterministic (the
default): with a nondeterministic collation ``hashtext`` hashes the collation's sort key.
docs/scaling.md ("Shard buckets") has the reasoning and the checks.

The ledger-wide aggregates (the /metrics counters, the usage summed over all wallets) are
split into :data:`GROUPS` routing groups: a wallet's group is its bucket's top 5 bits
(:func:`group_of`), and each group's rows carry its **anchor** (:data:`ANCHORS`), a fixed
text whose own bucket lies in the group.  Distributed by ``anchor`` and co-located with the
wallets, a group's rows live on the shard of its wallets for any shard count up to 32, so
a ledger transaction writes them on its wallet's node.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = [
    "ANCHORS",
    "BUCKETS",
    "GROUPS",
    "anchor_of",
    "bucket_of",
    "bucket_of_id",
    "check_shard_count",
    "group_of",
    "hash_bytes",
    "hashtext",
    "shard_of",
]

#: Buckets of the hash range: a shard count may be any power of two up to this.
BUCKETS = 1024
_BUCKET_BITS = 10
_MASK = 0xFFFFFFFF
_JOB_ID_LEN = 31  # job_ + 11 hex digits (millisecond) + 3 (bucket) + 13 (digest)
_GRANT_ID_LEN = 30  # gr_ + 3 hex digits (bucket) + 24 (digest)
_HEX = frozenset("0123456789abcdef")


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def _mix(a: int, b: int, c: int) -> tuple[int, int, int]:
    """lookup3's ``mix``: six steps ``x -= y; x ^= rot(y, k); y += z`` with (x, y, z) going
    round (a, c, b), (b, a, c), (c, b, a)."""
    v = [a, b, c]
    for step, k in enumerate((4, 6, 8, 16, 19, 4)):
        x, y, z = step % 3, (step + 2) % 3, (step + 1) % 3
        v[x] = ((v[x] - v[y]) & _MASK) ^ _rot(v[y], k)
        v[y] = (v[y] + v[z]) & _MASK
    return v[0], v[1], v[2]


def _final(a: int, b: int, c: int) -> int:
    c = ((c ^ b) - _rot(b, 14)) & _MASK
    a = ((a ^ c) - _rot(c, 11)) & _MASK
    b = ((b ^ a) - _rot(a, 25)) & _MASK
    c = ((c ^ b) - _rot(b, 16)) & _MASK
    a = ((a ^ c) - _rot(c, 4)) & _MASK
    b = ((b ^ a) - _rot(a, 14)) & _MASK
    return ((c ^ b) - _rot(b, 24)) & _MASK


def hash_bytes(data: bytes) -> int:
    """PostgreSQL's ``hash_bytes`` (src/common/hashfn.c: Bob Jenkins' lookup3 hash, as a
    little-endian server computes it), unsigned 32 bits."""
    a = b = c = (0x9E3779B9 + len(data) + 3923095) & _MASK
    whole = len(data) - len(data) % 12
    for i in range(0, whole, 12):
        a = (a + int.from_bytes(data[i : i + 4], "little")) & _MASK
        b = (b + int.from_bytes(data[i + 4 : i + 8], "little")) & _MASK
        c = (c + int.from_bytes(data[i + 8 : i + 12], "little")) & _MASK
        a, b, c = _mix(a, b, c)
    tail = data[whole:]
    # the last 0 to 11 bytes: a takes 0-3, b 4-7, c 8-10 shifted up a byte (its low byte
    # was once the length's)
    a = (a + int.from_bytes(tail[0:4], "little")) & _MASK
    b = (b + int.from_bytes(tail[4:8], "little")) & _MASK
    c = (c + (int.from_bytes(tail[8:11], "little") << 8)) & _MASK
    return _final(a, b, c)


def hashtext(text: str) -> int:
    """PostgreSQL's ``hashtext(text)`` (deterministic collation) on a UTF-8 database: a signed
    32-bit integer."""
    h = hash_bytes(text.encode("utf-8"))
    return h - (1 << 32) if h >= 1 << 31 else h


@lru_cache(maxsize=1 << 16)
def bucket_of(wallet_id: str) -> int:
    """The wallet's bucket: the top 10 bits of its hash range position (0 to 1023).
    Remembered for the last 65,536 wallets (a hash costs some 10 us in Python)."""
    return (hashtext(wallet_id) + (1 << 31)) >> (32 - _BUCKET_BITS)


#: Routing groups of the ledger-wide aggregates: a group's buckets share a shard for any
#: shard count up to this.
GROUPS = 32
_GROUP_SHIFT = _BUCKET_BITS - 5
#: Each group's anchor: the first of ``g0``, ``g1``, ... whose bucket lies in the group.
ANCHORS = (
    *("g5", "g26", "g20", "g124", "g42", "g24", "g46", "g19"),
    *("g77", "g0", "g10", "g16", "g80", "g33", "g58", "g13"),
    *("g18", "g84", "g11", "g2", "g41", "g56", "g6", "g86"),
    *("g44", "g25", "g74", "g59", "g7", "g49", "g1", "g4"),
)


def group_of(wallet_id: str) -> int:
    """The wallet's routing group (0 to 31): the top 5 bits of its bucket."""
    return bucket_of(wallet_id) >> _GROUP_SHIFT


def anchor_of(wallet_id: str) -> str:
    """The anchor of the wallet's group: the distribution value of the aggregate rows its
    transactions write, placed on the wallet's shard (shard count up to :data:`GROUPS`)."""
    return ANCHORS[group_of(wallet_id)]


def check_shard_count(shard_count: int) -> int:
    """``shard_count`` if it is 0 (no sharding) or a power of two up to :data:`BUCKETS`;
    else a :class:`ValueError` saying what is allowed."""
    if isinstance(shard_count, bool) or not isinstance(shard_count, int):
        raise ValueError("a whole number: 0 (off) or a power of two from 1 to 1024")
    if shard_count != 0 and not (
        1 <= shard_count <= BUCKETS and shard_count & (shard_count - 1) == 0
    ):
        raise ValueError("0 (off) or a power of two from 1 to 1024 (1, 2, 4, ..., 1024)")
    return shard_count


def shard_of(bucket: int, shard_count: int) -> int:
    """The shard (0 to ``shard_count - 1``) of ``bucket`` among ``shard_count`` equal hash
    ranges, as Citus places it; ``shard_count`` a power of two up to :data:`BUCKETS`."""
    if not 0 <= bucket < BUCKETS:
        raise ValueError(f"bucket: {bucket!r}; allowed: 0 to {BUCKETS - 1}")
    if check_shard_count(shard_count) == 0:
        raise ValueError("shard_count: 0; allowed: a power of two from 1 to 1024")
    return bucket >> (_BUCKET_BITS - (shard_count.bit_length() - 1))


def bucket_of_id(made_id: str) -> int | None:
    """The bucket a job id (``job_`` + 11 + 3 + 13 hex digits) or a grant id (``gr_`` + 3 +
    24) carries; ``None`` for any other id, such as those made before ids carried one
    (``job_`` + 24 hex digits, or + 11 + 13; ``gr_`` + 24)."""
    if len(made_id) == _JOB_ID_LEN and made_id.startswith("job_"):
        digits = made_id[4:]
        at = 11
    elif len(made_id) == _GRANT_ID_LEN and made_id.startswith("gr_"):
        digits = made_id[3:]
        at = 0
    else:
        return None
    if not _HEX.issuperset(digits):
        return None
    bucket = int(digits[at : at + 3], 16)
    return bucket if bucket < BUCKETS else None

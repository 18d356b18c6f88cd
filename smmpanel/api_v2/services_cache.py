"""The `services` answer, rendered, kept per process and per database.

Every call still checks the key and reads the catalog's version (one
transaction, smmpanel/catalog/version.py); only the list and its rendering
are skipped while the version stands.  What else changes the answer is the
key: the account when it has prices of its own (else every account of a
currency shares one list), the caller's exchange rate, and the extended
fields.  The language does not: an extended answer has every translation.

Bounded (least recently used out first), and cleared when the version moves
on: a list is never kept under a version newer than the one read before it.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from decimal import Decimal

from smmpanel.db import Database

# The account with prices of its own (None: the shared list), the exchange
# rate of the caller's currency, and whether the extended fields are on.
CacheKey = tuple[int | None, Decimal, bool]

DEFAULT_SIZE = 256


class ServicesCache:
    """Rendered answers by key, all of one catalog version; thread-safe (the
    API's reads run in several threads)."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._version: int | None = None
        self._entries: OrderedDict[CacheKey, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, version: int | None, key: CacheKey) -> bytes | None:
        with self._lock:
            if version is None or version != self._version:
                self.misses += 1
                return None
            body = self._entries.get(key)
            if body is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return body

    def put(self, version: int | None, key: CacheKey, body: bytes) -> None:
        """Keep `body`, read at `version`; a list of an older version than the
        kept ones (a slow reader overtaken by a change) is dropped."""
        with self._lock:
            if version is None or (self._version is not None and version < self._version):
                return
            if version != self._version:
                self._entries.clear()
                self._version = version
            self._entries[key] = body
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


_CACHES: weakref.WeakKeyDictionary[Database, ServicesCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def services_cache(db: Database) -> ServicesCache:
    """The cache of `db` (one Database per process in `serve`, one per test)."""
    with _CACHES_LOCK:
        cache = _CACHES.get(db)
        if cache is None:
            cache = _CACHES[db] = ServicesCache()
        return cache


def share_cache(db: Database, other: Database) -> None:
    """`other` (another engine of the same database) answers from `db`'s cache."""
    cache = services_cache(db)
    with _CACHES_LOCK:
        _CACHES[other] = cache

"""Counting attempts per key in a sliding window: in memory, or in Redis when ``REDIS_URL`` is
set (the only use of Redis, DESIGN.md §4), so several web processes share the counts."""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque


class MemoryLimiter:
    def __init__(self):
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str, window_s: float) -> int:
        """Record one attempt; return attempts within the window (this one included)."""
        now = time.monotonic()
        with self._lock:
            q = self._hits[key]
            while q and q[0] <= now - window_s:
                q.popleft()
            q.append(now)
            return len(q)

    def count(self, key: str, window_s: float) -> int:
        now = time.monotonic()
        with self._lock:
            q = self._hits.get(key)
            if not q:
                return 0
            while q and q[0] <= now - window_s:
                q.popleft()
            return len(q)

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)


class RedisLimiter:
    def __init__(self, url: str):
        import redis

        self._r = redis.Redis.from_url(url)

    def hit(self, key: str, window_s: float) -> int:
        k = f"rl:{key}"
        pipe = self._r.pipeline()
        pipe.incr(k)
        pipe.expire(k, int(window_s), nx=True)
        count, _ = pipe.execute()
        return int(count)

    def count(self, key: str, window_s: float) -> int:
        value = self._r.get(f"rl:{key}")
        return int(value or 0)

    def reset(self, key: str) -> None:
        self._r.delete(f"rl:{key}")


def make_limiter(redis_url: str | None):
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()

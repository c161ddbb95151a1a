"""Max-in-flight limiting: short requests beyond the limit get 429 TooManyRequests with a
Retry-After, instead of queueing without bound. Long-running requests (watch, log follow) are
not counted, like Kubernetes' --max-requests-inflight."""

from __future__ import annotations

from kcore.api import errors


class InFlightLimiter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def acquire(self) -> None:
        if self.limit > 0 and self.in_flight >= self.limit:
            raise errors.too_many_requests(
                "Too many requests, please try again later.", retry_after_seconds=1
            )
        self.in_flight += 1

    def release(self) -> None:
        self.in_flight -= 1

"""Writers on several machines share one PostgreSQL database (the cluster's workers): their
batches touching the same rows must not deadlock one another."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from storage import Database
from storage.db import FetchUpdate


def test_fetch_batches_over_the_same_pages_in_opposite_orders_do_not_deadlock(
    pg_url: str,
) -> None:
    setup = Database(pg_url)
    setup.create_schema()
    setup.dispose()
    urls = [f"https://news.example.com/a/{i}.html" for i in range(300)]
    errors: list[BaseException] = []

    def writer(order: list[str]) -> None:
        db = Database(pg_url)
        try:
            for round_ in range(12):
                at = datetime(2026, 1, 1, 0, round_, tzinfo=UTC)
                db.record_fetches(
                    [FetchUpdate(u, "demo", 200, at, etag=f'"{round_}"') for u in order]
                )
        except BaseException as exc:  # reported below: a deadlock is a DBAPIError here
            errors.append(exc)
        finally:
            db.dispose()

    threads = [
        threading.Thread(target=writer, args=(urls,)),
        threading.Thread(target=writer, args=(urls[::-1],)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors[0]
    check = Database(pg_url)
    try:
        states = [check.fetch_state(u) for u in urls]
    finally:
        check.dispose()
    assert all(s is not None and s["etag"] == '"11"' for s in states)

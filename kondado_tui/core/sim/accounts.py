"""The accounts a world can start from: an ordinary random one, and the demo showcase."""

from __future__ import annotations

import random
from typing import Any

from kondado_tui.core.sim import catalogue as cat
from kondado_tui.core.sim.spec import (
    ACTIVE,
    BLOCKED,
    BUILD_ERROR,
    BUILDING,
    FAILING,
    NOT_ACTIVE,
    RUNNING,
    SCHEDULED,
    Account,
    PipelineSpec,
    Plan,
    Start,
)

DEMO_SPEED = 30.0  # the demo account's timings are meant to be watched at this speed


def random_account(count: int, seed: int) -> Account:
    """An ordinary account: mostly healthy, a few disabled, one on the Essentials plan."""
    rng = random.Random(f"{seed}:account")
    ids = sorted(rng.sample(range(1000, 99_999), count))
    specs: list[PipelineSpec] = []
    initial: dict[int, Start] = {}
    for n, pid in enumerate(ids):
        connector = rng.choice(cat.CONNECTORS)
        dest_type = rng.choice(cat.DESTINATION_TYPES)
        obj = rng.choice(connector.objects)
        disabled = n % 7 == 3
        spec = PipelineSpec(
            id=pid,
            name=f"{connector.label} {obj} → {cat.DESTINATION_LABELS[dest_type]}",
            group=rng.choice(cat.GROUPS),
            interval=rng.choice(cat.SCHEDULES),
            run_seconds=rng.choice((45.0, 90.0, 180.0, 420.0, 900.0, 1800.0)),
            fail_rate=rng.choice((0.0, 0.02, 0.04, 0.08, 0.15)),
            src_collection_id=_collection_of(connector.source_type, "source"),
            dest_collection_id=_collection_of(dest_type, "destination"),
            paths=("", *rng.sample(connector.sub_paths, rng.randint(0, len(connector.sub_paths)))),
            parameters=dict(connector.parameters),
            queue_seconds=rng.choice((5.0, 20.0, 60.0)),
            plan=Plan.ESSENTIALS if n % 11 == 5 else Plan.BUSINESS,
            static=disabled,
        )
        if disabled:
            initial[pid] = Start(NOT_ACTIVE)
        specs.append(spec)
    return specs, initial


def _collection_of(type_: str, role: str) -> int:
    return next(c.id for c in cat.COLLECTIONS if c.type == type_ and c.role == role and c.active)


def demo_account() -> Account:
    """A showcase account: every documented status, and pipelines that keep moving.

    Timings are brisk but life-like (runs every 10-45 minutes, lasting 2-12 minutes):
    at `DEMO_SPEED` they run every 20-90 seconds and last 4-25 seconds.
    """

    def spec(
        pid: int,
        name: str,
        group: str,
        every_min: float,
        run_min: float,
        src: int,
        dest: int,
        connector: int,
        **extra: Any,
    ) -> PipelineSpec:
        conn = cat.CONNECTORS[connector]
        return PipelineSpec(
            id=pid,
            name=name,
            group=group,
            interval=every_min * cat.MINUTE,
            run_seconds=run_min * cat.MINUTE,
            fail_rate=extra.pop("fail_rate", 0.0),
            src_collection_id=src,
            dest_collection_id=dest,
            paths=("", *conn.sub_paths),
            parameters=dict(conn.parameters),
            jitter=3 * cat.MINUTE,
            queue_seconds=90.0,
            build_seconds=6 * cat.MINUTE,
            **extra,
        )

    specs = [
        spec(2040, "Shopify orders → BigQuery", "Sales", 15, 4, 5051, 7001, 5),
        spec(2041, "Shopify customers → BigQuery", "Sales", 20, 3, 5051, 7001, 5),
        spec(2042, "HubSpot deals → BigQuery", "Sales", 15, 5, 5022, 7001, 2, fail_rate=0.1),
        spec(2050, "Meta Ads insights → BigQuery", "Marketing", 20, 6, 5041, 7001, 4),
        spec(
            2051,
            "GA4 sessions by source → BigQuery",
            "Marketing",
            30,
            8,
            5031,
            7001,
            3,
            sticky_raw_msg=cat.WARNINGS[1],
        ),
        spec(
            2052,
            "HubSpot contacts → BigQuery",
            "Marketing",
            15,
            5,
            5021,
            7001,
            2,
            sticky_raw_msg=cat.MARKUP_WARNING,
        ),
        spec(
            2053,
            "Meta Ads campaigns → BigQuery",
            "Marketing",
            45,
            3,
            5042,
            7002,
            4,
            plan=Plan.ESSENTIALS,
        ),
        spec(
            2060,
            "ERP notas fiscais → Snowflake",
            "Finance",
            30,
            10,
            5011,
            7011,
            1,
            fail_rate=0.85,
            block_after=None,
        ),
        spec(2061, "ERP pedidos → Snowflake", "Finance", 10, 2, 5011, 7011, 1),
        spec(
            2062,
            "Postgres invoices → Snowflake",
            "Finance",
            15,
            7,
            5001,
            7011,
            0,
            fail_rate=0.3,
            block_after=None,
        ),
        spec(
            2063,
            "Postgres payments (legacy) → Snowflake",
            "Finance",
            30,
            5,
            5001,
            7011,
            0,
            static=True,
        ),
        spec(2070, "Postgres products → Redshift", "Product", 20, 12, 5002, 7021, 0),
        spec(2071, "Postgres events → Redshift", "Product", 30, 4, 5002, 7021, 0, static=True),
        spec(2072, "NetSuite items → Redshift", "Product", 30, 4, 5012, 7021, 1, static=True),
        spec(2080, "Shopify refunds → Postgres DW", "Operations", 30, 3, 5052, 7031, 5),
        spec(2081, "MySQL estoque → Postgres DW", "Operations", 30, 3, 5012, 7031, 1, static=True),
        spec(
            2082, "Postgres tickets → Postgres DW", "Operations", 20, 4, 5001, 7031, 0, static=True
        ),
    ]
    initial: dict[int, Start] = {
        2041: Start(RUNNING),
        2042: Start(SCHEDULED),
        2050: Start(SCHEDULED),
        2061: Start(RUNNING),
        2051: Start(ACTIVE, cat.WARNINGS[1]),
        2052: Start(ACTIVE, cat.MARKUP_WARNING),
        2060: Start(FAILING, cat.FAILURES[2], 4),
        2063: Start(NOT_ACTIVE),
        2070: Start(BUILDING),
        2071: Start(BLOCKED, cat.FAILURES[1], 6),
        2072: Start(ACTIVE, cat.LONG_TRACE, 1),
        2081: Start(BUILD_ERROR, cat.BUILD_FAILURE),
        2082: Start(cat.UNDOCUMENTED_STATUS, cat.UNDOCUMENTED_MESSAGE),
    }
    return specs, initial

"""What the simulated account contains: connectors, collections, names and error texts.

The texts imitate what sources and destinations really answer (driver errors, HTTP
bodies, stack traces) because the UI must cope with exactly that kind of free text.
"""

from __future__ import annotations

from dataclasses import dataclass

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0

# Execution frequencies a Kondado pipeline can have (seconds of simulated time).
SCHEDULES: tuple[float, ...] = (
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
)


@dataclass(frozen=True)
class Collection:
    """A configured source or destination (Kondado calls both "collections")."""

    id: int
    type: str
    role: str  # "source" or "destination"
    name: str
    active: bool = True


COLLECTIONS: tuple[Collection, ...] = (
    Collection(5001, "postgresql", "source", "postgres-prod"),
    Collection(5002, "postgresql", "source", "postgres-replica"),
    Collection(5003, "postgresql", "source", "postgres-legacy", active=False),
    Collection(5011, "mysql", "source", "mysql-erp"),
    Collection(5012, "mysql", "source", "mysql-erp-staging"),
    Collection(5021, "hubspot", "source", "HubSpot (marketing)"),
    Collection(5022, "hubspot", "source", "HubSpot (sales)"),
    Collection(5031, "google_analytics_4", "source", "GA4 site"),
    Collection(5032, "google_analytics_4", "source", "GA4 app"),
    Collection(5041, "facebook_ads", "source", "Meta Ads BR"),
    Collection(5042, "facebook_ads", "source", "Meta Ads LATAM"),
    Collection(5051, "shopify", "source", "Shopify store"),
    Collection(5052, "shopify", "source", "Shopify outlet"),
    Collection(7001, "bigquery", "destination", "BigQuery analytics"),
    Collection(7002, "bigquery", "destination", "BigQuery sandbox"),
    Collection(7003, "bigquery", "destination", "BigQuery old project", active=False),
    Collection(7011, "snowflake", "destination", "Snowflake DW"),
    Collection(7012, "snowflake", "destination", "Snowflake dev"),
    Collection(7021, "redshift", "destination", "Redshift cluster"),
    Collection(7022, "redshift", "destination", "Redshift staging"),
    Collection(7031, "postgresql", "destination", "Postgres DW"),
    Collection(7032, "postgresql", "destination", "Postgres DW test"),
)

COLLECTIONS_BY_ID: dict[int, Collection] = {c.id: c for c in COLLECTIONS}


@dataclass(frozen=True)
class Connector:
    """A kind of pipeline: its source type, the objects it extracts and their tables."""

    source_type: str
    label: str
    objects: tuple[str, ...]
    sub_paths: tuple[str, ...]  # table paths besides the main one ("")
    parameters: tuple[tuple[str, str], ...]


CONNECTORS: tuple[Connector, ...] = (
    Connector(
        "postgresql",
        "Postgres",
        ("orders", "customers", "invoices", "products"),
        ("items", "history"),
        (("schema", "public"), ("incremental_column", "updated_at")),
    ),
    Connector(
        "mysql",
        "MySQL ERP",
        ("pedidos", "clientes", "estoque", "notas_fiscais"),
        ("itens",),
        (("database", "erp"), ("incremental_column", "dt_alteracao")),
    ),
    Connector(
        "hubspot",
        "HubSpot",
        ("deals", "contacts", "companies", "tickets"),
        ("associations", "properties_history"),
        (("start_date", "2023-01-01"), ("archived", "false"), ("custom_properties", "")),
    ),
    Connector(
        "google_analytics_4",
        "GA4",
        ("sessions by source", "events", "ecommerce purchases"),
        ("dimensions",),
        (("property_id", "312456789"), ("start_date", "2024-01-01")),
    ),
    Connector(
        "facebook_ads",
        "Meta Ads",
        ("ads insights", "campaigns", "ad sets"),
        ("actions", "breakdowns"),
        (("account_id", "act_1029384756"), ("attribution", "7d_click")),
    ),
    Connector(
        "shopify",
        "Shopify",
        ("orders", "customers", "products", "refunds"),
        ("line_items", "customers", "fulfillments"),
        (("shop", "loja-exemplo"), ("start_date", "2022-06-01")),
    ),
)

DESTINATION_TYPES: tuple[str, ...] = ("bigquery", "snowflake", "redshift", "postgresql")
DESTINATION_LABELS: dict[str, str] = {
    "bigquery": "BigQuery",
    "snowflake": "Snowflake",
    "redshift": "Redshift",
    "postgresql": "Postgres DW",
}
GROUPS: tuple[str, ...] = ("Sales", "Marketing", "Finance", "Product", "Operations")

# Why a run fails. Multi-line on purpose: these come straight from drivers and APIs.
FAILURES: tuple[str, ...] = (
    "Could not connect to the source 'postgres-prod' (10.0.3.14:5432)\n"
    'connection to server at "10.0.3.14", port 5432 failed: Connection timed out\n'
    "\tIs the server running on that host and accepting TCP/IP connections?",
    "Error while loading table analytics.orders\n"
    'ERROR: could not extend file "base/16384/2619": No space left on device\n'
    "HINT: Check free disk space.",
    "The source answered 401 Unauthorized\n"
    '{"status":"error","message":"The OAuth token used to make this call expired 2 '
    'hour(s) ago.","category":"EXPIRED_AUTHENTICATION"}\n'
    "Reconnect the source in Kondado to renew its credentials.",
    "google.api_core.exceptions.Forbidden: 403 Quota exceeded: Your table exceeded quota "
    "for imports or query appends per table.\n"
    "For more information, see https://cloud.google.com/bigquery/docs/troubleshoot-quotas",
    'column "discount_code" of relation "orders" does not exist\n'
    "The source schema changed since the last run. Edit the pipeline to rebuild its tables.",
    "Read timed out after 600 seconds while fetching page 37 of /v3/objects/deals",
    "SSL SYSCALL error: EOF detected\nserver closed the connection unexpectedly\n"
    "\tThis probably means the server terminated abnormally before or while processing "
    "the request.",
)

# Texts an otherwise successful run can leave behind.
WARNINGS: tuple[str, ...] = (
    "3 records skipped: invalid date '0000-00-00' in column created_at",
    "The source's rate limit was reached; the run resumed after 120 seconds.",
    "Field 'custom_properties.lead_score' is deprecated by the source and will stop "
    "being sent on 2026-12-31.",
)

BUILD_FAILURE = (
    'Could not create table "dw.customers": permission denied for schema dw\n'
    "Grant CREATE on schema dw to the Kondado user, then rebuild the tables."
)

LONG_TRACE = "\n".join(
    [
        "Run failed after 3 attempts.",
        "Traceback (most recent call last):",
        *(
            f'  File "/opt/kondado/connectors/netsuite/extract.py", line {100 + 7 * i}, '
            f"in fetch_page_{i}\n    rows = session.search(record_type, page={i})"
            for i in range(12)
        ),
        "zeep.exceptions.Fault: SSS_REQUEST_LIMIT_EXCEEDED: Request limit exceeded. "
        "Only 10 concurrent requests are allowed for this account; " + "x" * 180,
        "The next run will retry automatically.",
    ]
)

# Free text is free text: markup-like brackets and an escape sequence (a harmless colour
# change) that a careless UI would interpret instead of showing.
MARKUP_WARNING = (
    "Column renamed by the source: [b]x[/b] -> [link=https://example.com]y[/link]\n"
    "\x1b[31mred text from the remote log\x1b[0m and a literal [/] bracket"
)

UNDOCUMENTED_STATUS = "paused_by_support"
UNDOCUMENTED_MESSAGE = "Paused by Kondado support during a connector migration (ticket 48213)."

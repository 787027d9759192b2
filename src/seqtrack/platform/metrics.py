"""Prometheus metrics the platform owns. Domains declare their own beside their code."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
HTTP_IN_FLIGHT = Gauge("http_requests_in_flight", "HTTP requests being answered now.")
DB_POOL_IN_USE = Gauge("db_pool_connections_in_use", "Database connections checked out.")
DB_POOL_SIZE = Gauge("db_pool_size", "Configured size of the database connection pool.")
BUILD_INFO = Info("seqtrack_build", "Version and backends of this SeqTrack process.")

"""Background jobs: a ledger in our database, huey as the transport, retries and dead letters."""

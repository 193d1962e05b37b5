"""Alembic migrations, from the first table on; run with `haven db upgrade`."""

"""A benchmark's own PostgreSQL database, made and dropped next to the one ``DATABASE_URL`` names."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit


def bench_url(base: str, name: str) -> str:
    """``base`` with its database replaced by ``name``."""
    return urlunsplit(urlsplit(base)._replace(path=f"/{name}"))


def admin_connection(base: str):
    """An autocommit connection to the server's ``postgres`` database (to create and drop databases)."""
    import psycopg

    parts = urlsplit(base)
    return psycopg.connect(
        host=parts.hostname,
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        dbname="postgres",
        autocommit=True,
    )


def recreate_database(base: str, name: str) -> None:
    with admin_connection(base) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def drop_database(base: str, name: str) -> None:
    with admin_connection(base) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()

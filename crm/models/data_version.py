"""One token that the database replaces whenever any data changes: what cached pages are keyed by.

``crm.views.page_cache`` keeps a rendered page under the token read at the start of the request,
so a page is served from the cache only while nothing it could show has changed. Never written by
the application: triggers on every other table write a new random token in the same transaction
as the change, whatever writes (ORM, imports, the demo loader's Core inserts, bulk statements, raw
SQL). On PostgreSQL they fire once, at commit (deferred constraint triggers), so the token's row
lock is taken last and held only while committing: a writer never waits on it holding other rows.
A random token rather than a counter: a database restored from a backup, or emptied by the tests,
can never show a token that earlier, different data already had.
"""
from sqlalchemy import DDL, BigInteger, event
from sqlalchemy.orm import Mapped, mapped_column

from crm.extensions import db

TOKEN_ROW = 1  # the id of the one row


class DataVersion(db.Model):
    """The single row (id 1) holding the current token."""

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    token: Mapped[int] = mapped_column(BigInteger)


# The token row, and a statement writing a new random 64-bit token into it (PostgreSQL's random()
# gives 52 bits of it: ample against collisions).
INSERT_TOKEN_ROW = {"postgresql": "INSERT INTO data_version (id, token) VALUES (1, floor(random() * 9.0e18)::bigint)",
                    "sqlite": "INSERT INTO data_version (id, token) VALUES (1, random())"}
RENEW_TOKEN = {"postgresql": "UPDATE data_version SET token = floor(random() * 9.0e18)::bigint WHERE id = 1",
               "sqlite": "UPDATE data_version SET token = random() WHERE id = 1"}

# PostgreSQL: one function; the first call in a transaction renews the token, the rest return at once.
PG_FUNCTION = """CREATE OR REPLACE FUNCTION data_version_renew() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('crm.data_version_renewed', true) IS DISTINCT FROM 'on' THEN
        RENEW;
        PERFORM set_config('crm.data_version_renewed', 'on', true);
    END IF;
    RETURN NULL;
END $$""".replace("RENEW", RENEW_TOKEN["postgresql"])


OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def _sqlite_trigger_name(table: str, operation: str) -> str:
    return f"tr_data_version_{table}_{operation.lower()}"


def trigger_statements(dialect: str, table: str) -> list[str]:
    """The statements that make any change to ``table`` (a name from the models) renew the token."""
    if dialect == "postgresql":
        return [f'CREATE CONSTRAINT TRIGGER tr_data_version AFTER {" OR ".join(OPERATIONS)} ON "{table}" '
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION data_version_renew()"]
    return [f'CREATE TRIGGER "{_sqlite_trigger_name(table, operation)}" AFTER {operation} ON "{table}" '
            f"FOR EACH ROW BEGIN {RENEW_TOKEN['sqlite']}; END" for operation in OPERATIONS]


def trigger_names(dialect: str, table: str) -> set[str]:
    """The names ``trigger_statements`` gives (PostgreSQL's name is per table already)."""
    if dialect == "postgresql":
        return {"tr_data_version"}
    return {_sqlite_trigger_name(table, operation) for operation in OPERATIONS}


def _create_for_every_table(metadata, connection, **_kw) -> None:
    """Tests' create_all (the app's schema comes from the migrations): the token row, and the
    triggers on every table the models define."""
    dialect = connection.dialect.name
    if dialect not in INSERT_TOKEN_ROW:
        return
    statements = [INSERT_TOKEN_ROW[dialect]] + ([PG_FUNCTION] if dialect == "postgresql" else [])
    for table in metadata.sorted_tables:
        if table.name != DataVersion.__tablename__:
            statements += trigger_statements(dialect, table.name)
    for statement in statements:
        connection.execute(DDL(statement))


event.listen(db.metadata, "after_create", _create_for_every_table)

"""How each database matches words in the archive's entries (ArchiveEntry):
what migration 0012 adds beside the model's own table, defined once here. The
test run builds its tables without migrations and so calls install() itself
(tests/conftest.py).

PostgreSQL: `vector`, a stored generated tsvector column in the text-search
configuration of each row's language (CONFIGS), weighted A for the link's
title, B its source, C its commentary, D its section's title and its issue's
subject and intro; and a GIN index on it. A row's vector follows its
language column, so a newsletter that changes language is re-weighed by one
UPDATE. Rows of up to 8 kB keep their vector and text in the table's own
pages, uncompressed: ranking reads the vector of every matching row, and
reading it compressed from TOAST made a common word's search three times
slower.

SQLite (the embedded default): an FTS5 table over the same five columns,
reading their text from the entries table (external content) and kept in
step with it by triggers. Its tokenizer stems English (Porter), whatever the
newsletter's language: other languages match their words as written.
"""

from newsletter.models import ArchiveEntry

# Newsletter.language → PostgreSQL's text-search configuration for it.
CONFIGS = {"en": "english", "de": "german", "fr": "french", "es": "spanish"}
FALLBACK_CONFIG = "simple"

TABLE = ArchiveEntry._meta.db_table
FTS_TABLE = f"{TABLE}_fts"
VECTOR_INDEX = "archive_entry_vector"
# The searched columns, in FTS5's column order, and their PostgreSQL weights.
WEIGHTS = {"title": "A", "source": "B", "commentary": "C", "section_title": "D", "issue_text": "D"}
COLUMNS = tuple(WEIGHTS)


def config_of(language: str) -> str:
    return CONFIGS.get(language, FALLBACK_CONFIG)


def _config_of_row() -> str:
    """The row's configuration as an immutable expression (a generated column needs one)."""
    cases = " ".join(f"WHEN '{code}' THEN '{name}'::regconfig" for code, name in CONFIGS.items())
    return f"(CASE language {cases} ELSE '{FALLBACK_CONFIG}'::regconfig END)"


def _postgres() -> tuple[list[str], list[str]]:
    config = _config_of_row()
    weighted = " || ".join(
        f"setweight(to_tsvector({config}, {column}), '{weight}')"
        for column, weight in WEIGHTS.items()
    )
    inline = ("vector", "commentary", "issue_text")
    install = [
        f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS vector tsvector "
        f"GENERATED ALWAYS AS ({weighted}) STORED",
        f"CREATE INDEX IF NOT EXISTS {VECTOR_INDEX} ON {TABLE} USING gin (vector)",
        f"ALTER TABLE {TABLE} SET (toast_tuple_target = 8160)",
        *(f"ALTER TABLE {TABLE} ALTER COLUMN {column} SET STORAGE EXTERNAL" for column in inline),
    ]
    uninstall = [
        *(
            f"ALTER TABLE {TABLE} ALTER COLUMN {column} SET STORAGE EXTENDED"
            for column in inline[1:]
        ),
        f"ALTER TABLE {TABLE} RESET (toast_tuple_target)",
        f"DROP INDEX IF EXISTS {VECTOR_INDEX}",
        f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS vector",
    ]
    return install, uninstall


def _sqlite() -> tuple[list[str], list[str]]:
    columns = ", ".join(COLUMNS)
    new = ", ".join(f"new.{c}" for c in COLUMNS)
    old = ", ".join(f"old.{c}" for c in COLUMNS)
    # Names and columns defined in this module (S608's injection cannot happen).
    add = f"INSERT INTO {FTS_TABLE} (rowid, {columns}) VALUES (new.id, {new});"  # noqa: S608
    drop = (
        f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, {columns}) "  # noqa: S608
        f"VALUES ('delete', old.id, {old});"
    )
    install = [
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5({columns}, "
        f"content='{TABLE}', content_rowid='id', "
        "tokenize='porter unicode61 remove_diacritics 0')",
        f"CREATE TRIGGER IF NOT EXISTS {TABLE}_ai AFTER INSERT ON {TABLE} BEGIN {add} END",
        f"CREATE TRIGGER IF NOT EXISTS {TABLE}_ad AFTER DELETE ON {TABLE} BEGIN {drop} END",
        f"CREATE TRIGGER IF NOT EXISTS {TABLE}_au AFTER UPDATE OF {columns} ON {TABLE} "
        f"BEGIN {drop} {add} END",
    ]
    uninstall = [
        *(f"DROP TRIGGER IF EXISTS {TABLE}_{suffix}" for suffix in ("ai", "ad", "au")),
        f"DROP TABLE IF EXISTS {FTS_TABLE}",
    ]
    return install, uninstall


STATEMENTS = {"postgresql": _postgres, "sqlite": _sqlite}


def install(schema_editor) -> None:
    """Add the database's own search structures (a migration's RunPython, or the test run)."""
    statements = STATEMENTS.get(schema_editor.connection.vendor)
    for sql in statements()[0] if statements else []:
        schema_editor.execute(sql)


def uninstall(schema_editor) -> None:
    statements = STATEMENTS.get(schema_editor.connection.vendor)
    for sql in statements()[1] if statements else []:
        schema_editor.execute(sql)

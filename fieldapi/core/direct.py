"""Hot statements run straight on the driver's connection.

The few statements that run on nearly every request (the gate's session lookup, the
building file, a list page) are built once, at import or once per role
(``scope.prepared``). For them SQLAlchemy's execution path — the statement's cache key, the
compiled-cache lookup, the execution context, result metadata and a Row per row — costs
more than the database takes to answer. ``rows`` compiles such a statement once per
dialect and sends its SQL text on the session's own DBAPI connection, with the bind and
result processors SQLAlchemy would apply, so the values are the same as ``execute`` gives;
the engine's cursor events still fire (statement counts see these statements too).

Statements whose SQL depends on their values (expanding ``IN``, literal-rendered
parameters) are run through SQLAlchemy as usual. A driver error is handed to SQLAlchemy's
own handling, so it is raised as ``execute`` would raise it and a dead connection is
dropped from the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session


@dataclass
class _Plan:
    statement: Executable  # kept so that the id it is filed under is not reused
    compiled: Any
    positional: tuple[str, ...] | None
    binds: Mapping[str, Callable[[Any], Any]]
    results: tuple[Callable[[Any], Any] | None, ...] | None = None  # after the first run


_PLANS: dict[tuple[int, str], _Plan | None] = {}


def _plan(statement: Executable, dialect: Dialect) -> _Plan | None:
    key = (id(statement), dialect.name)
    plan = _PLANS.get(key, False)
    if plan is not False and (plan is None or plan.statement is statement):
        return plan
    compiled = statement.compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params:
        _PLANS[key] = None
        return None
    positional = tuple(compiled.positiontup) if compiled.positional else None
    binds = dict(compiled._bind_processors)
    plan = _PLANS[key] = _Plan(statement, compiled, positional, binds)
    return plan


def _result_processors(plan: _Plan, dialect: Dialect, description) -> tuple:
    processors = []
    for column, described in zip(plan.compiled._result_columns, description, strict=True):
        processors.append(column[3]._cached_result_processor(dialect, described[1]))
    return tuple(processors)


def _run(conn: Connection, plan: _Plan, params: Mapping[str, Any]) -> list[tuple]:
    values = plan.compiled.construct_params(params)
    for name, process in plan.binds.items():
        if name in values:
            values[name] = process(values[name])
    sent = values if plan.positional is None else tuple(values[n] for n in plan.positional)
    sql = plan.compiled.string
    events = conn._has_events or conn.engine._has_events
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if events:
            conn.dispatch.before_cursor_execute(conn, cursor, sql, sent, None, False)
        cursor.execute(sql, sent)
        found = cursor.fetchall()
        if plan.results is None:
            plan.results = _result_processors(plan, conn.dialect, cursor.description)
        if events:
            conn.dispatch.after_cursor_execute(conn, cursor, sql, sent, None, False)
    except conn.dialect.loaded_dbapi.Error as exc:
        conn._handle_dbapi_exception(exc, sql, sent, cursor, None)
    finally:
        cursor.close()
    processors = [(i, p) for i, p in enumerate(plan.results) if p is not None]
    if not processors:
        return found
    out = []
    for row in found:
        row = list(row)
        for i, process in processors:
            row[i] = process(row[i])
        out.append(tuple(row))
    return out


def rows(db: Session | Connection, statement: Executable, params: Mapping[str, Any]) -> list:
    """The rows of a statement made once (as tuples, values as ``execute`` gives them)."""
    conn = db.connection() if isinstance(db, Session) else db
    plan = _plan(statement, conn.dialect)
    if plan is None:
        return [tuple(r) for r in conn.execute(statement, params)]
    return _run(conn, plan, params)


def first(db: Session | Connection, statement: Executable, params: Mapping[str, Any]):
    found = rows(db, statement, params)
    return found[0] if found else None

"""Each kind of object a phone keeps, as sync sends it: one module per kind.

A module holds a kind's columns and its shape in Python (every backend), its document as
JSON text built by PostgreSQL where it has one, and the ``Entity`` that reads it. The two
shapes must agree field for field (``tests/offline/test_sync.py``); a change to a stored
kind's document raises ``SyncDocument.SHAPE``.
"""

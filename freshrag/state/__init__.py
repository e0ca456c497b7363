"""What freshrag keeps besides the index: the model registry, feedback, dead letters, the webhook entry
journal, health state, claims of waiting changes, and document and run locks.

The low layer of the core: stores only, each with an embedded implementation (SQLite under the data dir, or
in process) and a distributed one (the broker's Redis). `freshrag.coordination` alone picks between them.
"""

"""The application layer: what the CLI, the web app and the flows share.

It composes ``ingest`` and ``archive`` (which never import each other) into use cases: the one
``AppContext`` (settings, database engine, object store, taxonomy), the intake pass, and the JSON
records every interface prints. See docs/architecture.md.
"""

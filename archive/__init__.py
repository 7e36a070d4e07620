"""The archive: naming rules, object storage, filing, review and integrity checks.

Imports ``models`` and ``config``; never ``ingest`` and never ``prefect``.
"""

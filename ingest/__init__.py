"""Ingestion: intake, format detection, image clean-up, OCR, classification and extraction.

Imports ``models`` and ``config``; never ``archive`` and never ``prefect``.
"""

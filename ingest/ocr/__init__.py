"""OCR: the engine interface and its engines.

- :mod:`ingest.ocr.base`: what an engine is (``OcrEngine``, ``CodeReader``) and gives back
  (``OcrResult``, ``Word``, ``Orientation``), with ``OcrParams``; text normalization and the
  code region after a label, shared by every engine.
- :mod:`ingest.ocr.tesseract`: tesseract (the only caller of pytesseract).
- :mod:`ingest.ocr.rapid`: RapidOCR (the only caller of rapidocr); :mod:`ingest.ocr.layout`
  puts its pieces in reading order; :mod:`ingest.ocr.textlayer` builds its PDF text layer.
- :mod:`ingest.ocr.engines`: one engine per stage (``CascadeEngine``) and
  ``make_ocr_engine(name)`` for ``Settings.ocr_engine``.
"""

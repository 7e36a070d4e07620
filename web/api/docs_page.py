"""``/api/v1/docs``: the OpenAPI schema as one plain HTML page (no scripts, no CDN)."""

from __future__ import annotations

import json
from html import escape
from typing import Any

_STYLE = (
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "h2{border-bottom:1px solid #ccc}code,pre{background:#f5f5f5;padding:.1rem .3rem}"
    ".m{display:inline-block;min-width:4rem;font-weight:bold}"
)


def _params(operation: dict[str, Any]) -> str:
    rows = [
        f"<li><code>{escape(p['name'])}</code> ({escape(p.get('in', ''))})"
        f"{' 必填' if p.get('required') else ''}</li>"
        for p in operation.get("parameters", [])
    ]
    body = operation.get("requestBody", {}).get("content", {})
    rows += [f"<li>请求体：<code>{escape(kind)}</code></li>" for kind in body]
    return f"<ul>{''.join(rows)}</ul>" if rows else ""


def docs_html(schema: dict[str, Any]) -> str:
    """Every path and method of ``schema`` with its summary, parameters and body types."""
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{escape(schema['info']['title'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(schema['info']['title'])}</h1>",
        f"<p>{escape(schema['info'].get('description', ''))}</p>",
        "<p>机器可读的接口说明：<a href='/api/v1/openapi.json'>/api/v1/openapi.json</a></p>",
    ]
    for path, methods in sorted(schema.get("paths", {}).items()):
        parts.append(f"<h2><code>{escape(path)}</code></h2>")
        for method, operation in methods.items():
            summary = escape(operation.get("summary", ""))
            parts.append(f"<p><span class='m'>{escape(method.upper())}</span> {summary}</p>")
            parts.append(_params(operation))
    schemas = schema.get("components", {}).get("schemas", {})
    if schemas:
        parts.append("<h2>数据结构</h2>")
        for name, spec in sorted(schemas.items()):
            text = escape(json.dumps(spec, ensure_ascii=False, indent=1))
            parts.append(f"<h3>{escape(name)}</h3><pre>{text}</pre>")
    parts.append("</body></html>")
    return "".join(parts)

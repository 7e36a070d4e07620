"""Layouts the first sample set lacked (issue 12, item 8), drawn with :mod:`bench.samples`.

* ``business_license_qr``: the current license format. The USCC is printed in the top-left
  *under* its label, a QR-like block beside it; the right column prints each label on its own
  line with the value under it; the address is the right column's last value, with the
  registration date printed directly after it on the same line
  (``…文三路94号 2020年02月07日``).
* ``customer_form_cells``: a ruled form with ``*``-marked required labels, two label/value pairs
  per row, the customer type as tick boxes (``□ 企业客户 ☑ 个人客户``: an individual's form
  half the time, its USCC cell then empty, the ID number filled), phones printed as
  ``131-7618-6762`` or ``027-46638103``; with the ``handwritten`` option the values are written
  by hand into their cells, each at its own height in the cell, and the tick is drawn by hand.

``identity`` (``generate(..., identity={...})``) makes documents of one customer agree: a
license's ``legal_representative`` or ``name``, a form's ``name``/``id_number`` (an individual's
form then), an ID card's ``name``.
"""

from __future__ import annotations

import random
from datetime import date

from bench import samples as s

LAYOUT_KINDS = ("business_license_qr", "customer_form_cells")
_QR_MODULES = 25


def _qr_block(canvas: s._Canvas, x: float, y: float, size: float, rng: random.Random) -> None:
    """A QR-like square: three finder patterns and random modules (not a readable code)."""
    unit = size / _QR_MODULES
    canvas.rect((x, y, x + size, y + size), width=1, outline=s.WHITE, fill=s.WHITE)
    for row in range(_QR_MODULES):
        for col in range(_QR_MODULES):
            finder = _in_finder(row, col)
            on = finder if finder is not None else rng.random() < 0.5
            if on:
                canvas.rect(
                    (x + col * unit, y + row * unit, x + (col + 1) * unit, y + (row + 1) * unit),
                    width=1,
                    fill=s.INK,
                )


def _in_finder(row: int, col: int) -> bool | None:
    """Whether a module of a finder pattern is dark; None outside the three finders."""
    for r0, c0 in ((0, 0), (0, _QR_MODULES - 7), (_QR_MODULES - 7, 0)):
        r, c = row - r0, col - c0
        if 0 <= r < 7 and 0 <= c < 7:
            ring = max(abs(r - 3), abs(c - 3))
            return ring != 2
    return None


def business_license_qr(canvas: s._Canvas, rng: random.Random) -> tuple[dict, list[str]]:
    co = s._company(rng)
    legal = s._person_name(rng)
    established = s._random_date(rng, 2005, 2022)
    issued = s._random_date(rng, max(established.year, 2019), 2024)
    long_term = rng.random() < 0.5
    term_end = None if long_term else established.replace(year=established.year + 20)
    capital = f"人民币{rng.choice((50, 100, 200, 500, 1000, 3000))}万元"
    scope = "；".join([co["scope"], *rng.sample(s._SCOPE_EXTRA, 2)]) + "。"
    identity = canvas.identity
    fields = {
        "uscc": co["uscc"],
        "name": identity.get("name", co["name"]),
        "company_type": rng.choice(s._COMPANY_TYPES),
        "legal_representative": identity.get("legal_representative", legal),
        "registered_capital": capital,
        "established": established.isoformat(),
        "term_start": established.isoformat(),
        "term_end": term_end.isoformat() if term_end else None,
        "address": co["address"],
        "business_scope": scope,
        "issue_date": issued.isoformat(),
        "registration_authority": f"{co['city']}市市场监督管理局",
    }
    canvas.rect((60, 60, canvas.width - 60, canvas.height - 60), width=14, outline=(170, 120, 40))
    canvas.text(220, 230, "统一社会信用代码", 44, style="bold")
    canvas.text(220, 300, co["uscc"], 50)
    code_w = max(
        canvas.text_width("统一社会信用代码", 44, "bold"), canvas.text_width(co["uscc"], 50)
    )
    _qr_block(canvas, 220 + code_w + 60, 200, 250, rng)
    canvas.text(canvas.width / 2, 330, "营业执照", 190, style="bold", anchor="mm")
    canvas.text(canvas.width / 2, 500, "（副    本）", 56, anchor="mm")
    lines = ["统一社会信用代码", co["uscc"], "营业执照", "（副 本）"]
    left = [
        ("名        称", fields["name"]),
        ("类        型", fields["company_type"]),
        ("法定代表人", fields["legal_representative"]),
        ("经营范围", scope),
    ]
    _, left_lines = s._field_rows(
        canvas, x=220, y=760, rows=left, label_w=330, value_w=1100, size=50, gap=40
    )
    lines += left_lines
    term = f"{s._cn_date(established)}至{'长期' if long_term else s._cn_date(term_end)}"
    right = [
        ("注册资本", capital),
        ("成立日期", s._cn_date(established)),
        ("营业期限", term),
        ("住所", co["address"]),
    ]
    y = 760.0
    for label, value in right:
        canvas.text(1850, y, label, 50, style="bold")
        canvas.text(1850, y + 72, value, 50)
        lines += [label, value]
        y += 190
    y -= 190
    date_x = 1850 + canvas.text_width(co["address"], 50) + 40
    canvas.text(date_x, y + 72, s._cn_date(issued), 50)
    lines[-1] += s._cn_date(issued)
    canvas.text(2550, y + 330, "登记机关", 54, style="bold")
    lines.append("登记机关")
    s._draw_seal(canvas, center=(2850, y + 420), text=fields["registration_authority"], rng=rng)
    canvas.seal_spots.append((1100, 900))
    return fields, lines


def _phone(rng: random.Random) -> tuple[str, str]:
    """A phone as printed and as the archive keeps it."""
    if rng.random() < 0.6:
        prefix = rng.choice(("131", "135", "138", "139", "150", "158", "176", "186", "188"))
        digits = f"{prefix}{rng.randint(0, 99_999_999):08d}"
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}", digits
    landline = f"0{rng.choice(('10', '21', '27', '20'))}-{rng.randint(2_000_0000, 8_999_9999)}"
    return landline, landline


def _form_data(canvas: s._Canvas, rng: random.Random) -> dict:
    co = s._company(rng)
    person = s._person(rng)
    identity = canvas.identity
    individual = rng.random() < 0.5 or "id_number" in identity
    printed_phone, phone = _phone(rng)
    name = identity.get("name", person["name"] if individual else co["name"])
    contact = name if individual else s._person_name(rng)
    return {
        "name": name,
        "customer_type": "个人客户" if individual else "企业客户",
        "uscc": None if individual else co["uscc"],
        "id_number": identity.get("id_number", person["id_number"]) if individual else None,
        "legal_representative": None if individual else s._person_name(rng),
        "contact": contact,
        "phone": phone,
        "printed_phone": printed_phone,
        "email": f"kh{rng.randint(1, 999)}@example.com",
        "address": person["address"] if individual else co["address"],
        "industry": rng.choice(s._INDUSTRIES),
        "source": rng.choice(s._SOURCES),
        "filled_date": s._random_date(rng, 2022, 2024).isoformat(),
    }


def _tick_boxes(canvas: s._Canvas, x: float, y: float, chosen: str) -> str:
    """``□ 企业客户 ☑ 个人客户`` drawn as boxes (the tick by hand on a handwritten form)."""
    printed = []
    for option in ("企业客户", "个人客户"):
        canvas.rect((x, y - 22, x + 44, y + 22), width=4)
        if option == chosen:
            ink = s.HAND_INK if canvas.handwritten else s.INK
            canvas.draw.line(
                [
                    (canvas.px(x + 8), canvas.px(y)),
                    (canvas.px(x + 19), canvas.px(y + 14)),
                    (canvas.px(x + 38), canvas.px(y - 16)),
                ],
                fill=ink,
                width=max(2, canvas.px(7)),
                joint="curve",
            )
        canvas.text(x + 64, y, option, 46, anchor="lm")
        printed.append(("☑ " if option == chosen else "□ ") + option)
        x += 64 + canvas.text_width(option, 46) + 90
    return " ".join(printed)


def customer_form_cells(canvas: s._Canvas, rng: random.Random) -> tuple[dict, list[str]]:
    f = _form_data(canvas, rng)
    canvas.text(canvas.width / 2, 250, "客户资料登记表", 96, style="bold", anchor="mm")
    rows: list[list[tuple[str, str | None]]] = [
        [("*客户名称", f["name"])],
        [("*客户类型", None)],
        [("统一社会信用代码", f["uscc"] or ""), ("身份证号码", f["id_number"] or "")],
        [("法定代表人", f["legal_representative"] or ""), ("*联系人", f["contact"])],
        [("*联系方式", f["printed_phone"]), ("电子邮箱", f["email"])],
        [("*地址", f["address"])],
        [("所属行业", f["industry"]), ("客户来源", f["source"])],
        [("备注", "")],
    ]
    x0, x2, top, row_h = 150, canvas.width - 150, 400, 150
    label_w, half = 400, (canvas.width - 300) / 2
    lines = ["客户资料登记表"]
    for i, row in enumerate(rows):
        y = top + i * row_h
        canvas.rect((x0, y, x2, y + row_h), width=4)
        printed = []
        for j, (label, value) in enumerate(row):
            cx = x0 + j * half
            if j:
                canvas.line((cx, y, cx, y + row_h), width=4)
            canvas.line((cx + label_w, y, cx + label_w, y + row_h), width=4)
            size = 40 if len(label) > 6 else 44
            canvas.text(cx + 25, y + row_h / 2, label, size, style="bold", anchor="lm")
            if value is None:
                value = _tick_boxes(canvas, cx + label_w + 40, y + row_h / 2, f["customer_type"])
            elif value:
                drop = rng.uniform(-28, 28) if canvas.handwritten else 0
                canvas.value(cx + label_w + 35, y + row_h / 2 + drop, value, 44, anchor="lm")
            printed.append(f"{label} {value}".strip())
        lines.append(" ".join(printed))
    y = top + len(rows) * row_h + 110
    filled = s._cn_date(date.fromisoformat(f["filled_date"]))
    canvas.labelled(x0, y, "填表人：", f["contact"], 46)
    canvas.labelled(1350, y, "填表日期：", filled, 46)
    lines += [f"填表人：{f['contact']}", f"填表日期：{filled}"]
    canvas.seal_spots.append((1300, top + 3 * row_h))
    del f["printed_phone"]
    return f, lines


RENDERERS = {
    "business_license_qr": business_license_qr,
    "customer_form_cells": customer_form_cells,
}

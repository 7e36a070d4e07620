"""Values matched to labels by where the OCR lines sit, and tick boxes read from pixels
(issue 12, item 3). The boxes are built by hand as OCR would give them; the tick boxes are drawn
into a real image; no OCR here (tests/integration/test_layouts_ocr.py runs it)."""

from __future__ import annotations

from datetime import date

from PIL import Image, ImageDraw

from ingest.extract import extract_fields
from ingest.extract.geometry import Box, PageLayout, boxes_from_words
from ingest.ocr.base import Word, code_region_below_label
from ingest.ticks import read_ticks

TODAY = date(2026, 11, 1)
USCC = "91110105172079659C"
ID_NUMBER = "440106197003083671"
H = 40  # text height in pixels


def box(text: str, left: int, top: int, *, width: int | None = None) -> Box:
    """A box whose characters are ``H`` wide each (Latin ones half)."""
    width = width or round(sum(H if ord(c) > 0x2E80 else H * 0.55 for c in text))
    return Box(text, left, top, left + width, top + H)


def extract(doc_type: str, text: str, *boxes: Box, ticks: tuple = ()) -> dict:
    layout = PageLayout(tuple(boxes), ticks) if boxes or ticks else None
    return extract_fields(doc_type, text, today=TODAY, layout=layout)


def test_words_join_into_boxes_split_at_wide_gaps() -> None:
    words = [
        Word("*联系人", 90, 100, 100, 120, H, (0, 0, 1)),
        Word("田斌", 90, 230, 100, 80, H, (0, 0, 1)),  # a label's width further: own box
        Word("131-7618-6762", 90, 1000, 100, 300, H, (0, 0, 1)),
        Word("电子", 90, 100, 200, 80, H, (0, 0, 2)),
        Word("邮箱", 90, 180, 200, 80, H, (0, 0, 2)),
    ]
    boxes = boxes_from_words(words)
    assert [b.text for b in boxes] == ["*联系人田斌", "131-7618-6762", "电子邮箱"]
    first = boxes[0]
    assert first.x_at(4) == 230 and first.x_at(len(first.text)) == 310  # 田 starts its word


# --- a value placed beside or under its label ---------------------------------------------------

# Reading order as OCR gave it on a handwritten form: the contact's name sits lower than its
# label and was put on the phone's line; the phone came out at the end of the page, after a
# second number (the company's switchboard) that makes the page-wide phone search give up.
WRONG_ORDER = """客户资料登记表
*客户名称 张丽
*联系人
*联系方式 田斌
电子邮箱 tian@example.com
010-88886666
131-7618-6762
"""
FORM_BOXES = (
    box("客户资料登记表", 700, 100),
    box("*客户名称", 100, 300),
    box("张丽", 600, 300),
    box("*联系人", 100, 450),
    box("田斌", 600, 472),  # written low in its cell
    box("*联系方式", 100, 600),
    box("131-7618-6762", 600, 590),
    box("电子邮箱", 100, 750),
    box("tian@example.com", 600, 750),
    box("010-88886666", 1500, 1900),  # printed in the page footer
)


def test_text_order_alone_reads_the_form_wrong() -> None:
    fields = extract("customer_form", WRONG_ORDER)
    assert fields["contact_person"].value is None
    assert fields["phone"].value != "13176186762"


def test_form_values_are_taken_from_their_cells() -> None:
    fields = extract("customer_form", WRONG_ORDER, *FORM_BOXES)
    assert fields["contact_person"].value == "田斌"
    assert fields["phone"].value == "13176186762"
    assert fields["phone"].reasons == []
    assert fields["customer_name"].value == "张丽"
    assert fields["email"].value == "tian@example.com"


def test_a_row_of_labels_above_its_values_and_two_pairs_per_line() -> None:
    text = "客户资料登记表\n*联系人 *联系方式\n131-7618-6762 田斌\n"  # values in the wrong order
    boxes = (
        box("*联系人", 100, 300),
        box("*联系方式", 700, 300),
        box("田斌", 110, 360),
        box("131-7618-6762", 710, 355),
    )
    fields = extract("customer_form", text, *boxes)
    assert (fields["contact_person"].value, fields["phone"].value) == ("田斌", "13176186762")
    pairs = (
        box("*联系人田斌", 100, 300),
        box("*联系方式", 700, 300),
        box("131-7618-6762", 1100, 305),
    )
    text = "客户资料登记表\n*联系人田斌 *联系方式\n"
    fields = extract("customer_form", text, *pairs)
    assert (fields["contact_person"].value, fields["phone"].value) == ("田斌", "13176186762")


def test_an_address_wrapped_in_its_cell_keeps_both_lines() -> None:
    text = "客户资料登记表\n*地址\n广东省广州市天河区\n*联系人 田斌\n体育西路237号\n"
    boxes = (
        box("*地址", 100, 300),
        box("广东省广州市天河区", 600, 290),
        box("体育西路237号", 600, 345),
        box("*联系人", 100, 450),
        box("田斌", 600, 450),
    )
    fields = extract("customer_form", text, *boxes)
    assert fields["address"].value == "广东省广州市天河区体育西路237号"
    assert fields["contact_person"].value == "田斌"
    # the next row's value written high in its cell is not the address's second line
    boxes = (
        box("*地址", 100, 300),
        box("湖北省武汉市武昌区中北路223号", 600, 310),
        box("所属行业", 100, 380),
        box("制造业", 600, 372),
    )
    text = "客户资料登记表\n*地址 湖北省武汉市武昌区中北路223号\n所属行业 制造业\n"
    fields = extract("customer_form", text, *boxes)
    assert fields["address"].value == "湖北省武汉市武昌区中北路223号"
    assert fields["industry"].value == "制造业"


def test_an_empty_cell_takes_nothing_from_the_row_under_it() -> None:
    text = "客户资料登记表\n*客户名称 张丽\n统一社会信用代码 1\n身份证号码\n"
    boxes = (
        box("*客户名称", 100, 300),
        box("张丽", 600, 300),
        box("统一社会信用代码", 100, 450),
        box("1", 600, 452),
        box("身份证号码", 100, 600),
        box(ID_NUMBER, 600, 600),
    )
    fields = extract("customer_form", text, *boxes)
    assert fields["uscc"].value is None and fields["uscc"].reasons == []
    assert fields["id_number"].value == ID_NUMBER


def test_the_code_under_its_label_is_the_labelled_code() -> None:
    text = (
        f"统一社会信用代码\n营业执照\n名称 杭州某某科技有限公司\n法定代表人 田斌\n"
        f"登记机关\n{USCC}\n"
    )
    without = extract("business_license", text)["uscc"]
    assert without.value == USCC and without.confidence < 0.85  # found far from its label
    boxes = (box("统一社会信用代码", 100, 100), box(USCC, 100, 160), box("营业执照", 900, 120))
    placed = extract("business_license", text, *boxes)["uscc"]
    assert (placed.value, placed.reasons) == (USCC, [])
    assert placed.confidence >= 0.85


def test_a_license_value_under_its_label_when_the_text_gives_none() -> None:
    text = "营业执照\n名称 杭州某某科技有限公司\n法定代表人\n住所 杭州市西湖区文三路94号\n王强\n"
    assert extract("business_license", text)["legal_representative"].value is None
    boxes = (box("法定代表人", 100, 300), box("王强", 100, 360), box("住所", 900, 300))
    assert extract("business_license", text, *boxes)["legal_representative"].value == "王强"


# --- tick boxes ----------------------------------------------------------------------------------

FORM_TEXT = "客户资料登记表\n*客户名称 张丽\n*客户类型 ☑企业客户 □个人客户\n"


def test_ticks_from_the_image_decide_the_option_not_the_text() -> None:
    ticks = (("企业客户", False), ("个人客户", True))
    assert extract("customer_form", FORM_TEXT)["customer_type"].value == "企业客户"
    assert extract("customer_form", FORM_TEXT, ticks=ticks)["customer_type"].value == "个人客户"


def test_no_box_ticked_gives_no_value_and_two_ticked_a_doubt() -> None:
    field = extract("customer_form", FORM_TEXT, ticks=(("企业客户", False), ("个人客户", False)))
    field = field["customer_type"]
    assert (field.value, field.reasons) == (None, ["missing"])
    field = extract("customer_form", FORM_TEXT, ticks=(("企业客户", True), ("个人客户", True)))
    assert field["customer_type"].reasons == ["option_unknown"]


def _page_with_boxes(marks: dict[str, str]) -> tuple[Image.Image, list[Box]]:
    """Options at 40 px text height, each with a box drawn left of it: ``empty``, ``tick``,
    ``filled`` or ``none`` (no box at all)."""
    image = Image.new("L", (1600, 400), 245)
    draw = ImageDraw.Draw(image)
    boxes = []
    x = 100
    for option, mark in marks.items():
        top = 150
        if mark != "none":
            draw.rectangle((x, top + 2, x + 36, top + 38), outline=20, width=3)
        if mark == "tick":
            draw.line([(x + 7, top + 20), (x + 16, top + 31), (x + 31, top + 8)], fill=20, width=5)
        elif mark == "filled":
            draw.rectangle((x + 6, top + 8, x + 30, top + 32), fill=20)
        start = x + 56
        for n in range(4):  # the option's four characters, as crosses
            cx = start + 20 + 40 * n
            draw.line([(cx - 15, top + 20), (cx + 15, top + 20)], fill=40, width=4)
            draw.line([(cx, top + 5), (cx, top + 35)], fill=40, width=4)
        boxes.append(Box(option, start, top, start + 160, top + H))
        x = start + 300
    return image, boxes


def test_read_ticks_tells_ticked_from_empty_boxes() -> None:
    image, boxes = _page_with_boxes({"企业客户": "empty", "个人客户": "tick"})
    assert read_ticks(image, boxes, ["企业客户", "个人客户"]) == (
        ("企业客户", False),
        ("个人客户", True),
    )
    image, boxes = _page_with_boxes({"企业客户": "filled", "个人客户": "empty"})
    assert dict(read_ticks(image, boxes, ["企业客户", "个人客户"])) == {
        "企业客户": True,
        "个人客户": False,
    }


def test_an_option_without_a_box_is_not_reported() -> None:
    image, boxes = _page_with_boxes({"企业客户": "none", "个人客户": "empty"})
    assert read_ticks(image, boxes, ["企业客户", "个人客户"]) == (("个人客户", False),)
    assert read_ticks(image, [], ["企业客户"]) == ()


def test_the_code_region_under_a_label_covers_the_next_line() -> None:
    words = [
        Word("统一社会", 90, 100, 100, 160, H, (0, 0, 1)),
        Word("信用代码", 90, 260, 100, 160, H, (0, 0, 1)),
        Word(USCC, 90, 100, 160, 420, H, (0, 0, 2)),
    ]
    region = code_region_below_label(words, "统一社会信用代码", image_width=3000, image_height=2000)
    assert region is not None
    left, top, right, bottom = region
    assert left < 100 and right >= 520 and top >= 140 and bottom >= 200  # the code's box
    assert top > 100 + H // 2  # not the label's own line
    assert code_region_below_label(words, "法定代表人", image_width=3000, image_height=2000) is None


def test_a_letter_spaced_name_label_whose_second_character_was_lost() -> None:
    # RapidOCR on the current license: 名        称 came out as 名, the name glued to it
    text = "营业执照\n名广州星辰物流有限公司注册资本\n人民币3000万元\n法定代表人周杰\n"
    assert extract("business_license", text)["name"].value == "广州星辰物流有限公司"

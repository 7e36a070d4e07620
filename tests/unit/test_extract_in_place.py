"""Values kept where the page prints them (issue 12): the text and boxes below are what the
default engine (RapidOCR, cascade) gave on bench pages (bench/layouts.py business_license_qr
seed 45 clean, bench/samples.py business_license seed 11 clean and business_license_qr seed 41
skew, customer_form_cells seed 41 handwritten); no OCR runs here."""

from __future__ import annotations

from datetime import date

from ingest.extract import extract_fields
from ingest.extract.geometry import Box, PageLayout

TODAY = date(2026, 11, 1)

# The current license: the left column's 类型 value and the right column's capital (printed
# under its label, a little higher) were read into one text line.
QR_LICENSE = """91510107MA02XRF62J 统一社会信用代码
营业执照
(副本)
名成都博远文化传媒有限公司注册资本
类型有限责任公司(自然人投资或控股) 人民币1000万元
法定代表人高建国成立日期 2009年10月02日
"""
QR_BOXES = (
    Box("注册资本", 1838, 761, 2064, 835),
    Box("类型", 202, 868, 428, 955),
    Box("有限责任公司(自然人投资或控股)", 545, 882, 1284, 944),
    Box("人民币1000万元", 1843, 838, 2220, 906),
)


def test_a_value_ends_with_its_box_not_in_the_next_columns_value() -> None:
    text_only = extract_fields("business_license", QR_LICENSE, today=TODAY)
    assert text_only["company_type"].value == "有限责任公司(自然人投资或控股)人民币1000万元"
    fields = extract_fields(
        "business_license", QR_LICENSE, today=TODAY, layout=PageLayout(QR_BOXES)
    )
    assert fields["company_type"].value == "有限责任公司(自然人投资或控股)"
    assert "trimmed_layout" in fields["company_type"].reasons  # the reviewer sees the cut


# The older license: 登记机关 under the red seal read 登记林, the line after the address in the
# text, though it stands far under it and right of the address's start.
SEAL_LICENSE = """营业执照
统一社会信用代码 9111010572245600X2
名称北京嘉禾物流有限公司
法定代表人林娜
住所北京市朝阳区建国路115号
登记林
2019年01月02日
"""
SEAL_BOXES = (
    Box("名称北京嘉禾物流有限公司", 220, 827, 1055, 893),
    Box("住所北京市朝阳区建国路115号", 1833, 1155, 2738, 1239),
    Box("登记林", 2392, 2001, 2531, 2083),
)


def test_a_multiline_value_takes_only_the_lines_right_under_it() -> None:
    text_only = extract_fields("business_license", SEAL_LICENSE, today=TODAY)
    assert text_only["address"].value == "北京市朝阳区建国路115号登记林"
    fields = extract_fields(
        "business_license", SEAL_LICENSE, today=TODAY, layout=PageLayout(SEAL_BOXES)
    )
    assert fields["address"].value == "北京市朝阳区建国路115号"
    assert "trimmed_layout" in fields["address"].reasons


def test_a_wrapped_line_under_the_value_stays() -> None:
    boxes = (
        *SEAL_BOXES[:2],
        Box("朝阳门外大街1号", 1840, 1245, 2300, 1325),  # the next line, under the value
    )
    text = SEAL_LICENSE.replace("登记林", "朝阳门外大街1号")
    fields = extract_fields("business_license", text, today=TODAY, layout=PageLayout(boxes))
    assert fields["address"].value == "北京市朝阳区建国路115号朝阳门外大街1号"
    assert "trimmed_layout" not in fields["address"].reasons


def test_a_date_printed_before_its_label_on_a_skewed_page() -> None:
    # The label above its date, detected as one piece on a skewed page: date first.
    text = """营业执照
名称南京博远物流有限公司
注册资本
人民币1000万元
2019年03月17日成立日期
营业期限
2019年03月17日至长期
"""
    fields = extract_fields("business_license", text, today=TODAY)
    assert fields["established_date"].value == "2019-03-17"
    assert fields["registered_capital"].value is not None  # the date is not the capital's


def test_a_code_is_not_taken_from_before_its_label_by_the_text() -> None:
    # Codes before their label are found by validity (ingest/extract/codes.py), not here.
    text = "营业执照\n名称某某有限公司\n1234567 统一社会信用代码\n"
    assert extract_fields("business_license", text, today=TODAY)["uscc"].value is None


def test_a_handwritten_email_domain_with_1_for_l_is_corrected_and_flagged() -> None:
    text = "客户资料登记表\n*客户名称 张丽\n电子邮箱 kh936@examp1e.com\n"
    field = extract_fields("customer_form", text, today=TODAY)["email"]
    assert field.value == "kh936@example.com"
    assert "ocr_confusable" in field.reasons and field.raw == "kh936@examp1e.com"
    plain = extract_fields("customer_form", text.replace("examp1e", "163"), today=TODAY)
    assert plain["email"].value == "kh936@163.com" and not plain["email"].reasons

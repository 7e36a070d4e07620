"""Extraction on real layouts (issue 12): codes away from their labels, values that swallow
their neighbours, forms with marked labels and empty cells, required fields per type, printed
dates as their own fields. The strings are OCR text as the held-out scans gave it."""

from __future__ import annotations

from datetime import date

from config.taxonomy import load_taxonomy
from ingest.extract import extract_fields
from ingest.fields import Field
from ingest.pipeline import _FIELD_REASON_MAP
from models.validation import uscc_is_valid

TODAY = date(2026, 11, 1)
USCC = "91110105172079659C"
USCC_OTHER = "91440101MA59XK3P2L"
ID_NUMBER = "440106197003083671"


def extract(doc_type: str, text: str) -> dict[str, Field]:
    return extract_fields(doc_type, text, today=TODAY)


def license_text(
    *,
    code_line: str = f"{USCC} 统一社会信用代码",
    address: str | None = None,
    legal_rep: str = "法定代表人 田斌 营业期限 2010年05月06日至长期",
) -> str:
    address = address or "住所 杭州市西湖区文三路94号"
    return f"""营业执照
(副本)
{code_line}
名称 杭州某某科技有限公司 注册资本 人民币500万元
类型 有限责任公司 成立日期 2010年05月06日
{legal_rep}
经营范围 技术开发；技术咨询。 {address}
登记机关
"""


# --- 1. codes by validity, not only by position -------------------------------------------------


def test_uscc_printed_before_its_label_is_read() -> None:
    assert uscc_is_valid(USCC) and uscc_is_valid(USCC_OTHER)
    field = extract("business_license", license_text())["uscc"]
    assert (field.value, field.reasons) == (USCC, [])
    assert field.confidence >= 0.85  # on the label's own line


def test_uscc_on_the_line_above_its_label_and_far_away() -> None:
    above = license_text(code_line=f"{USCC}\n统一社会信用代码")
    assert extract("business_license", above)["uscc"].value == USCC
    far = license_text(code_line="统一社会信用代码") + f"扫描二维码\n{USCC}\n"
    field = extract("business_license", far)["uscc"]
    assert (field.value, field.reasons) == (USCC, [])
    assert field.confidence < 0.85  # not next to the label


def test_invalid_labelled_code_gives_way_to_a_valid_one_elsewhere() -> None:
    text = license_text(code_line="统一社会信用代码 91110105172079659Z") + f"{USCC}\n"
    field = extract("business_license", text)["uscc"]
    assert (field.value, field.reasons) == (USCC, [])


def test_two_different_valid_uscc_on_one_page_are_flagged() -> None:
    text = license_text(code_line=f"统一社会信用代码 {USCC}") + f"{USCC_OTHER}\n"
    field = extract("business_license", text)["uscc"]
    assert field.value == USCC  # the labelled one
    assert field.reasons == ["uscc_candidates_mismatch"]
    assert field.confidence <= 0.3
    # Without a labelled value: the nearest to the label, still flagged.
    text = license_text(code_line=f"{USCC_OTHER}\n统一社会信用代码\n{USCC}")
    assert extract("business_license", text)["uscc"].reasons == ["uscc_candidates_mismatch"]
    # The same code twice is no conflict.
    text = license_text(code_line=f"统一社会信用代码 {USCC}") + f"{USCC}\n"
    assert extract("business_license", text)["uscc"].reasons == []


def test_two_valid_id_numbers_on_one_card_page_are_flagged() -> None:
    text = f"姓名 王强\n公民身份号码 {ID_NUMBER}\n11010519491231002X\n"
    field = extract("id_card", text)["id_number"]
    assert (field.value, field.reasons) == (ID_NUMBER, ["id_candidates_mismatch"])


def test_an_id_number_on_a_form_is_not_taken_for_a_uscc() -> None:
    text = f"客户资料登记表\n客户名称 王强\n身份证号码 {ID_NUMBER}\n统一社会信用代码\n"
    fields = extract("customer_form", text)
    assert fields["uscc"].value is None and fields["uscc"].reasons == []
    assert fields["id_number"].value == ID_NUMBER


# --- 2. field boundaries ------------------------------------------------------------------------


def test_address_followed_by_the_issue_date_is_cut_and_the_date_kept() -> None:
    text = license_text(address="住所 杭州市西湖区文三路94号2020年02月07日")
    fields = extract("business_license", text)
    assert fields["address"].value == "杭州市西湖区文三路94号"
    assert fields["address"].reasons == ["trimmed_date"]
    assert fields["issue_date"].value == "2020-02-07"


def test_address_ending_in_a_label_fragment_is_cut() -> None:
    text = license_text(address="住所 广州市天河区体育西路1403室登记机")
    field = extract("business_license", text)["address"]
    assert (field.value, field.reasons) == ("广州市天河区体育西路1403室", ["trimmed_label"])


def test_values_without_neighbours_are_not_cut() -> None:
    fields = extract("business_license", license_text())
    assert fields["address"].value == "杭州市西湖区文三路94号"
    assert fields["address"].reasons == []
    assert fields["name"].value == "杭州某某科技有限公司"
    # A date is content of a date field and of the scope, never cut there.
    text = license_text(address="住所 杭州市文三路94号").replace(
        "技术咨询。", "技术咨询(2030年12月31日前有效)。"
    )
    fields = extract("business_license", text)
    assert "2030年12月31日" in fields["business_scope"].value
    assert fields["business_scope"].reasons == []
    assert fields["established_date"].value == "2010-05-06"


def test_a_line_starting_an_unknown_marked_field_ends_the_value_above() -> None:
    text = "客户资料登记表\n*地址 广东省广州市天河区\n*开户行 中国银行天河支行\n"
    assert extract("customer_form", text)["address"].value == "广东省广州市天河区"


# --- 3. forms as forms (text) -------------------------------------------------------------------

FORM = """客户资料登记表
*客户名称 张丽 客户类型 □企业客户 个人客户
统一社会信用代码 | 1
*联系人田斌 *联系方式
*地址广东省广州市天河区体育西路237号 邮箱 tian@example.com
提交日期 2023年11月21日
131-7618-6762
"""


def test_form_with_marked_labels_two_pairs_per_line_and_phone_at_the_end() -> None:
    fields = extract("customer_form", FORM)
    assert fields["customer_name"].value == "张丽"
    assert fields["contact_person"].value == "田斌"
    assert fields["phone"].value == "13176186762"
    assert fields["phone"].confidence < 0.9  # found outside its cell
    assert fields["address"].value == "广东省广州市天河区体育西路237号"
    assert fields["email"].value == "tian@example.com"


def test_landline_at_the_end_of_the_page() -> None:
    field = extract("customer_form", FORM.replace("131-7618-6762", "027-46638103"))["phone"]
    assert field.value == "027-46638103"


def test_phone_at_the_end_is_not_guessed_among_several_or_from_codes() -> None:
    text = FORM.replace("131-7618-6762", "131-7618-6762 139-0000-1111")
    assert extract("customer_form", text)["phone"].value is None
    text = FORM.replace("131-7618-6762", ID_NUMBER)  # digits inside an ID number: no phone
    assert extract("customer_form", text)["phone"].value is None


def test_empty_cells_give_no_value_never_a_stray_digit() -> None:
    fields = extract("customer_form", FORM)
    assert fields["uscc"].value is None and fields["uscc"].reasons == []  # optional, empty
    text = license_text(code_line="统一社会信用代码 1\n(1-1)")
    field = extract("business_license", text)["uscc"]
    assert (field.value, field.reasons) == (None, ["missing"])


def test_tick_box_read_as_nothing_leaves_the_unticked_option_out() -> None:
    assert extract("customer_form", FORM)["customer_type"].value == "个人客户"
    text = FORM.replace("□企业客户 个人客户", "企业客户 口个人客户")
    assert extract("customer_form", text)["customer_type"].value == "企业客户"
    text = FORM.replace("□企业客户 个人客户", "企业客户 个人客户")  # no box read at all
    field = extract("customer_form", text)["customer_type"]
    assert field.reasons == ["option_unknown"]


# --- 4. required fields by type -----------------------------------------------------------------


def test_license_without_uscc_is_missing_it_whatever_else_is_true() -> None:
    text = license_text(
        code_line="统一社会信用代码",
        legal_rep="法定代表人 田斌 营业期限 2010年05月06日至2020年05月05日",
    )
    fields = extract("business_license", text)
    assert fields["term_end"].reasons == ["expired"]
    assert fields["uscc"].reasons == ["missing"]
    text = license_text(code_line="统一社会信用代码 9111010517207965")  # too short to validate
    assert "missing" in extract("business_license", text)["uscc"].reasons


def test_license_without_legal_representative_and_card_without_name() -> None:
    text = license_text(legal_rep="营业期限 2010年05月06日至长期")
    assert extract("business_license", text)["legal_representative"].reasons == ["missing"]
    card = extract("id_card", f"性别 男\n公民身份号码 {ID_NUMBER}\n")
    assert card["name"].reasons == ["missing"]
    card = extract("id_card", "姓名 王强\n公民身份号码 44010619700308367\n")
    assert "missing" in card["id_number"].reasons


# --- 7. dates -----------------------------------------------------------------------------------


def test_a_forms_printed_date_is_its_fill_date_not_the_submission_date() -> None:
    fields = extract("customer_form", FORM)
    assert "submitted_date" not in fields
    assert fields["filled_date"].value == "2023-11-21"


def test_issue_date_under_the_registration_authority() -> None:
    text = license_text() + "2020年02月07日\n"
    assert extract("business_license", text)["issue_date"].value == "2020-02-07"
    text = license_text() + "二〇二〇年二月七日\n"
    assert extract("business_license", text)["issue_date"].value == "2020-02-07"


# --- reasons are labelled -----------------------------------------------------------------------


def test_every_new_reason_has_a_chinese_label_and_conflicts_hold_the_document() -> None:
    labels = load_taxonomy().review_reasons
    new = [
        "uscc_candidates_mismatch",
        "id_candidates_mismatch",
        "trimmed_date",
        "trimmed_label",
        "trimmed_layout",
        "code_conflict",
    ]
    assert all(labels.get(code) for code in new)
    assert _FIELD_REASON_MAP["uscc_candidates_mismatch"] == "code_conflict"
    assert _FIELD_REASON_MAP["id_candidates_mismatch"] == "code_conflict"
    assert all(code in labels for code in _FIELD_REASON_MAP.values())


def test_scope_keeps_its_dates_but_not_the_issue_date_wrapped_onto_it() -> None:
    text = license_text().replace("登记机关\n", "2020年02月07日\n登记机关\n")
    fields = extract("business_license", text)
    assert fields["business_scope"].value == "技术开发;技术咨询"
    assert fields["business_scope"].reasons == ["trimmed_date"]
    assert fields["issue_date"].value == "2020-02-07"


def test_code_misread_with_letters_is_repaired_and_noise_runs_are_skipped() -> None:
    text = f"姓名 王强\n{ID_NUMBER.replace('0', 'O')}\n"
    field = extract("id_card", text)["id_number"]
    assert (field.value, field.reasons) == (ID_NUMBER, ["id_corrected"])
    noise = license_text(code_line="统一社会信用代码") + "O" * 18 + "\n"
    assert extract("business_license", noise)["uscc"].reasons == ["missing"]


def test_a_row_of_labels_above_its_values_gives_the_phone_its_own_value() -> None:
    text = "客户资料登记表\n*联系人 *联系方式\n田斌\n131-7618-6762\n"
    assert extract("customer_form", text)["phone"].value == "13176186762"

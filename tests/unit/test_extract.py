"""Unit tests for ingest.extract on hand-written OCR text (clean and with tesseract noise).

The noisy samples reproduce what tesseract chi_sim+eng gives on scans: spaces between Chinese
characters, full-width colons, O read for 0, labels and values on separate lines.
"""

from __future__ import annotations

from datetime import date

import pytest

from ingest.extract import extract_fields
from ingest.extraction_rules import field_labels, load_extraction_rules
from ingest.fields import Field
from models.validation import USCC_CHARSET, uscc_is_valid

TODAY = date(2025, 1, 1)
USCC = "91350100M000100Y43"
ID_F = "11010519491231002X"  # GB 11643 example: female, born 1949-12-31
ID_M = "440524198001010013"  # male, born 1980-01-01

LICENSE_CLEAN = f"""营业执照
(副本)
统一社会信用代码 {USCC}
名称 福建某某科技有限公司 注册资本 人民币100万元
类型 有限责任公司(自然人投资或控股) 成立日期 2015年03月12日
法定代表人 张三 营业期限 2015年03月12日至2035年03月11日
经营范围 软件开发；信息技术咨询服务。 住所 福州市鼓楼区五四路1号
登记机关
2020年01月02日
"""

LICENSE_NOISY = """营 业 执 照
( 副 本 )
统 一 社 会 信 用 代 码
9135 O1OO M000 l00Y 43
名 称 ： 福 建 某 某 （ 上 海 ） 科 技 有 限 公 司
类 型 ： 有 限 责 任 公 司
法 定 代 表 人 ： 李 四
注 册 资 本 ： 壹 佰 万 元 整
成 立 日 期 ： 2 0 1 5 年 3 月 1 2 日
营 业 期 限 ： 2015 年 03 月 12 日 至 长 期
住 所 ：
福 州 市 鼓 楼 区 五 四 路 1 号
经 营 范 围 ： 软 件 开 发 ；
信 息 技 术 咨 询 服 务 。
登 记 机 关
"""

ID_FRONT = f"""姓 名 王 芳
性 别 女 民 族 汉
出 生 1949 年 12 月 31 日
住 址 北 京 市 西 城 区 某 某 街
1 号 院 2 栋 301 室
公 民 身 份 号 码 {ID_F}
"""

ID_BACK = """中 华 人 民 共 和 国
居 民 身 份 证
签 发 机 关 北 京 市 公 安 局 西 城 分 局
有 效 期 限 2015.03.12-2035.03.12
"""

ID_BACK_LONG = """中华人民共和国
居民身份证
签发机关 北京市公安局西城分局
有效期限 2010.06.01-长期
"""

BANK_PERMIT = """开 户 许 可 证
核 准 号 ： J3910001234567 编 号 ： 3910-01234567
经 审 核 ， 福 建 某 某 科 技 有 限 公 司 符 合 开 户 条 件 ， 准 予
开 立 基 本 存 款 账 户 。
法 定 代 表 人 （ 单 位 负 责 人 ） 张 三
开 户 银 行 中 国 工 商 银 行 股 份 有 限 公 司 福 州 分 行 营 业 部
账 号 1402 0012 3456 7890 123
发 证 机 关 （ 盖 章 ）
2018 年 03 月 12 日
"""

CUSTOMER_FORM = f"""客 户 资 料 登 记 表
客 户 名 称 福 建 某 某 科 技 有 限 公 司
客 户 类 型 企 业 客 户
统 一 社 会 信 用 代 码 {USCC}
法 定 代 表 人 张 三
联 系 人 陈 经 理
联 系 方 式 138 0013 8000
电 子 邮 箱 chen.jl@example.com
地 址 福 州 市 鼓 楼 区 五 四 路 1 号
所 属 行 业 IT服务
客 户 来 源 展 会 推 广
备 注
填 表 人 ： 陈 经 理 填 表 日 期 ： 2024 年 05 月 20 日
"""

CONTRACT = """技 术 服 务 合 同
合 同 编 号 ： HT-2024-0012
甲 方 ： 福 建 某 某 科 技 有 限 公 司
乙 方 ： 上 海 某 某 信 息 技 术 有 限 公 司
签 订 日 期 ： 2024 年 03 月 01 日
甲 乙 双 方 本 着 平 等 自 愿 、 诚 实 信 用 的 原 则 ， 经 友 好 协 商 ， 达 成 如 下 协 议 。
2. 任 何 一 方 违 反 本 合 同 约 定 的 ， 应 向 守 约 方 支 付 合 同 总 金 额 百 分 之 十 的
违 约 金 。
3. 乙 方 应 按 照 本 合 同 约 定 的 时 间 完 成 服 务 。
4. 合 同 期 限 ： 2024 年 03 月 01 日 至 2025 年 02 月 28 日 。
5. 合 同 金 额 ： 人 民 币 1,234,000 元 （ 大 写 ： 壹 佰 贰 拾 叁 万 肆 仟 元 整 ） 。
甲 方 （ 盖 章 ） ： 乙 方 （ 盖 章 ） ：
"""

OTHER = """增值税电子普通发票
购买方 名称 福建某某科技有限公司
货物或应税劳务名称 办公用品
价税合计 ¥1,200.00
"""


def values(fields: dict[str, Field]) -> dict[str, str | None]:
    return {k: f.value for k, f in fields.items()}


def extract(doc_type: str, text: str, **kw: object) -> dict[str, Field]:
    return extract_fields(doc_type, text, today=TODAY, **kw)  # type: ignore[arg-type]


# --- business license ---------------------------------------------------------------------------


def test_license_clean() -> None:
    fields = extract("business_license", LICENSE_CLEAN, page=2)
    assert values(fields) == {
        "uscc": USCC,
        "name": "福建某某科技有限公司",
        "company_type": "有限责任公司(自然人投资或控股)",
        "legal_representative": "张三",
        "registered_capital": "1000000",
        "established_date": "2015-03-12",
        "term_start": "2015-03-12",
        "term_end": "2035-03-11",
        "address": "福州市鼓楼区五四路1号",
        "business_scope": "软件开发;信息技术咨询服务",
        "issue_date": "2020-01-02",
    }
    assert fields["registered_capital"].unit == "元"
    assert all(f.reasons == [] for f in fields.values())
    assert all(f.page == 2 for f in fields.values())
    assert fields["uscc"].confidence > 0.9


def test_license_noisy_corrects_o_for_zero_and_flags_it() -> None:
    fields = extract("business_license", LICENSE_NOISY)
    assert fields["uscc"].value == USCC
    assert fields["uscc"].reasons == ["uscc_corrected"]
    assert fields["uscc"].confidence < 0.9
    assert values(fields) | {"uscc": USCC} == {
        "issue_date": None,  # 登记机关 without a date
        "uscc": USCC,
        "name": "福建某某(上海)科技有限公司",
        "company_type": "有限责任公司",
        "legal_representative": "李四",
        "registered_capital": "1000000",
        "established_date": "2015-03-12",
        "term_start": "2015-03-12",
        "term_end": "长期",
        "address": "福州市鼓楼区五四路1号",
        "business_scope": "软件开发;信息技术咨询服务",
    }


def test_a_speck_read_as_a_full_stop_beside_a_chinese_one_is_dropped() -> None:
    text = LICENSE_CLEAN.replace("信息技术咨询服务", "信息技术咨询服务。.(依法须经批准的项目)")
    scope = extract("business_license", text)["business_scope"].value
    assert scope == "软件开发;信息技术咨询服务。(依法须经批准的项目)"


def test_a_date_read_before_its_label_at_the_end_of_a_row() -> None:
    """A skewed current-format license: the established date, set above its label, is read into
    the line of the field before it (法定代表人李海燕 2014年03月18日成立日期)."""
    text = LICENSE_CLEAN.replace(
        "类型 有限责任公司(自然人投资或控股) 成立日期 2015年03月12日\n法定代表人 张三",
        "类型 有限责任公司(自然人投资或控股)\n法定代表人 张三 2015年03月12日成立日期\n",
    )
    fields = extract("business_license", text)
    assert fields["established_date"].value == "2015-03-12"
    assert fields["legal_representative"].value == "张三"


def test_license_expired_and_expiring() -> None:
    text = LICENSE_CLEAN.replace("至2035年03月11日", "至2024年12月31日")
    assert extract("business_license", text)["term_end"].reasons == ["expired"]
    text = LICENSE_CLEAN.replace("至2035年03月11日", "至2025年01月20日")
    fields = extract_fields("business_license", text, today=TODAY, warning_days=30)
    assert fields["term_end"].reasons == ["expiring"]
    assert (
        extract_fields("business_license", text, today=TODAY, warning_days=10)["term_end"].reasons
        == []
    )


def test_license_old_style_term_labels() -> None:
    text = LICENSE_CLEAN.replace(
        "营业期限 2015年03月12日至2035年03月11日", "营业期限自 2015年03月12日\n营业期限至 长期"
    )
    fields = extract("business_license", text)
    assert (fields["term_start"].value, fields["term_end"].value) == ("2015-03-12", "长期")


def test_missing_fields_are_flagged() -> None:
    fields = extract("business_license", "营业执照\n统一社会信用代码 " + USCC)
    assert fields["uscc"].value == USCC
    assert fields["name"].value is None
    assert fields["name"].reasons == ["missing"]
    assert fields["registered_capital"].reasons == []  # optional


def _license_with(code: str) -> str:
    return LICENSE_CLEAN.replace(USCC, code)


def test_uscc_with_one_wrong_character_is_never_accepted_as_valid() -> None:
    for pos in range(18):
        for ch in USCC_CHARSET + "IOSVZ":
            if ch == USCC[pos]:
                continue
            wrong = USCC[:pos] + ch + USCC[pos + 1 :]
            field = extract("business_license", _license_with(wrong))["uscc"]
            if field.reasons == []:
                pytest.fail(f"{wrong} accepted as {field.value}")
            assert field.value == wrong or "uscc_corrected" in field.reasons, wrong
            assert field.value != wrong or not uscc_is_valid(wrong)
            assert field.confidence <= 0.6


def test_uscc_check_digit_failure_is_reported() -> None:
    field = extract("business_license", _license_with("91350100M000100Y47"))["uscc"]
    assert field.value == "91350100M000100Y47"
    # A license without a valid code is always missing its USCC, besides the check failing.
    assert field.reasons == ["uscc_check_digit", "missing"]
    assert field.confidence <= 0.2


def test_uscc_without_label_found_when_valid() -> None:
    text = LICENSE_CLEAN.replace("统一社会信用代码 ", "统 - 社 全 信 用 代 玛 ")
    field = extract("business_license", text)["uscc"]
    assert field.value == USCC
    assert field.confidence < 0.9


# --- ID card ------------------------------------------------------------------------------------


def test_id_front() -> None:
    fields = extract("id_card", ID_FRONT, side="front")
    assert values(fields) == {
        "name": "王芳",
        "gender": "女",
        "ethnicity": "汉",
        "birth_date": "1949-12-31",
        "address": "北京市西城区某某街1号院2栋301室",
        "id_number": ID_F,
    }
    assert all(f.reasons == [] for f in fields.values())


def test_id_back() -> None:
    fields = extract("id_card", ID_BACK, side="back")
    assert values(fields) == {
        "issuing_authority": "北京市公安局西城分局",
        "valid_from": "2015-03-12",
        "valid_to": "2035-03-12",
    }
    long_term = extract("id_card", ID_BACK_LONG, side="back")
    assert long_term["valid_to"].value == "长期"
    assert long_term["valid_to"].reasons == []


def test_id_both_sides_on_one_photocopy_page() -> None:
    text = ID_FRONT + "仅供开户使用\n" + ID_BACK.replace("2035.03.12", "2024.03.12")
    fields = extract("id_card", text)
    assert fields["id_number"].value == ID_F
    assert fields["issuing_authority"].value == "北京市公安局西城分局"
    assert fields["valid_to"].reasons == ["expired"]


def test_id_birth_and_gender_must_match_the_number() -> None:
    text = ID_FRONT.replace(ID_F, ID_M)  # male, born 1980: printed female, 1949
    fields = extract("id_card", text, side="front")
    assert "id_birth_mismatch" in fields["birth_date"].reasons
    assert "id_gender_mismatch" in fields["gender"].reasons
    assert {"id_birth_mismatch", "id_gender_mismatch"} <= set(fields["id_number"].reasons)


def test_birth_date_and_gender_the_ocr_lost_come_from_a_valid_number() -> None:
    text = "\n".join(
        line for line in ID_FRONT.splitlines() if not line.startswith(("出 生", "性 别"))
    )
    fields = extract("id_card", text, side="front")
    assert fields["birth_date"].value == "1949-12-31"
    assert fields["gender"].value == "女"
    assert fields["birth_date"].reasons == fields["gender"].reasons == ["from_id_number"]
    broken = extract("id_card", text.replace(ID_F, ID_F[:-1] + "3"), side="front")
    assert broken["birth_date"].value is None  # an invalid number vouches for nothing
    form = extract("customer_form", f"客户资料登记表\n客户名称王芳\n身份证号码{ID_F}")
    assert "birth_date" not in form and "gender" not in form  # fields the form does not have


def test_id_number_ocr_letters_corrected_and_bad_digit_reported() -> None:
    fields = extract("id_card", ID_FRONT.replace(ID_F, "11O1O519491231OO2X"), side="front")
    assert fields["id_number"].value == ID_F
    assert fields["id_number"].reasons == ["id_corrected"]
    fields = extract("id_card", ID_FRONT.replace(ID_F, "110105194912310021"), side="front")
    assert fields["id_number"].reasons == ["id_check_digit", "missing"]


def test_id_label_and_value_on_separate_lines() -> None:
    text = (
        "姓名\n王芳\n性别\n女\n民族\n汉\n出生\n1949年12月31日\n住址\n北京市西城区某某街\n"
        f"公民身份号码\n{ID_F}"
    )
    fields = extract("id_card", text, side="front")
    assert values(fields) == {
        "name": "王芳",
        "gender": "女",
        "ethnicity": "汉",
        "birth_date": "1949-12-31",
        "address": "北京市西城区某某街",
        "id_number": ID_F,
    }


# --- bank permit, customer form, contract, other ------------------------------------------------


def test_bank_permit() -> None:
    fields = extract("bank_permit", BANK_PERMIT)
    assert values(fields) == {
        "approval_number": "J3910001234567",
        "serial_number": "3910-01234567",
        "depositor_name": "福建某某科技有限公司",
        "legal_representative": "张三",
        "bank_name": "中国工商银行股份有限公司福州分行营业部",
        "account_number": "14020012345678901 23".replace(" ", ""),
        "issue_date": "2018-03-12",
    }


@pytest.mark.parametrize("row", ["账 1402 0012 3456 7890 123", "1402 0012 3456 7890 123"])
def test_a_permits_account_number_whose_label_ocr_lost(row: str) -> None:
    """The letter-spaced 账 号 loses 号 or both characters to the detector on some scans."""
    fields = extract("bank_permit", BANK_PERMIT.replace("账 号 1402 0012 3456 7890 123", row))
    assert fields["account_number"].value == "14020012345678901 23".replace(" ", "")
    assert fields["approval_number"].value == "J3910001234567"


def test_bank_permit_depositor_label() -> None:
    intro = "经 审 核 ， 福 建 某 某 科 技 有 限 公 司 符 合 开 户 条 件 ， 准 予"
    text = BANK_PERMIT.replace(intro, "存 款 人 名 称 福 建 某 某 贸 易 有 限 公 司")
    assert extract("bank_permit", text)["depositor_name"].value == "福建某某贸易有限公司"


def test_customer_form() -> None:
    fields = extract("customer_form", CUSTOMER_FORM)
    assert values(fields) == {
        "customer_name": "福建某某科技有限公司",
        "customer_type": "企业客户",
        "uscc": USCC,
        "id_number": None,
        "legal_representative": "张三",
        "contact_person": "陈经理",
        "phone": "13800138000",
        "email": "chen.jl@example.com",
        "address": "福州市鼓楼区五四路1号",
        "industry": "IT服务",
        "source_channel": "展会推广",
        "submitted_by": "陈经理",
        "filled_date": "2024-05-20",
    }
    assert all(f.reasons == [] for f in fields.values())


def test_customer_form_bad_phone_email_and_checkbox() -> None:
    text = (
        CUSTOMER_FORM.replace("138 0013 8000", "128 0013 800")
        .replace("chen.jl@example.com", "chen.jl example.com")
        .replace("企 业 客 户", "□ 企 业 客 户 ☑ 个 人 客 户")
    )
    fields = extract("customer_form", text)
    assert fields["phone"].reasons == ["phone_format"]
    assert fields["email"].reasons == ["email_format"]
    assert fields["customer_type"].value == "个人客户"


def test_contract() -> None:
    fields = extract("contract", CONTRACT)
    assert values(fields) == {
        "contract_number": "HT-2024-0012",
        "contract_name": "技术服务合同",
        "party_a": "福建某某科技有限公司",
        "party_b": "上海某某信息技术有限公司",
        "signed_date": "2024-03-01",
        "effective_date": "2024-03-01",
        "expiry_date": "2025-02-28",
        "amount": "1234000",
        "party_a_uscc": None,  # not printed on this contract
        "party_b_uscc": None,
    }
    assert fields["amount"].unit == "元"
    assert fields["expiry_date"].reasons == []
    assert extract_fields("contract", CONTRACT, today=date(2025, 3, 1))["expiry_date"].reasons == [
        "expired"
    ]


def test_contract_amount_in_capitals_only() -> None:
    text = CONTRACT.replace("人 民 币 1,234,000 元 （ 大 写 ： ", "人 民 币 ")
    text = text.replace(" ） 。", "。")
    fields = extract("contract", text)
    assert (fields["amount"].value, fields["amount"].unit) == ("1234000", "元")


def test_other_type_has_no_fields() -> None:
    assert extract("other", OTHER) == {}


def test_field_labels_cover_every_field() -> None:
    rules = load_extraction_rules()
    for doc_type, text in [
        ("business_license", LICENSE_CLEAN),
        ("id_card", ID_FRONT),
        ("bank_permit", BANK_PERMIT),
        ("customer_form", CUSTOMER_FORM),
        ("contract", CONTRACT),
    ]:
        labels = field_labels(doc_type, rules=rules)
        assert set(extract(doc_type, text)) == set(labels)
    assert field_labels("business_license")["uscc"] == "统一社会信用代码"
    assert field_labels("business_license")["term_end"] == "营业期限(止)"


# --- verbatim tesseract 5.3 output (chi_sim+eng, --psm 4) on generated noisy 300 DPI scans -----

TESSERACT_PERMIT = """”开户许可证
 核准号: J3101582960356            | |    编号: 3101-09135402
经审核，上海金桥物流有限公司符合开户条件， 准予开立基本存款账户。

存款人名称 上海金桥物流有限公司
法定代表人 胡志强

”开户银行    中国银行股份有限公司上海分行
账 ”号 — 0740114701938074416
"""

TESSERACT_ID = """ORO PEON ee ee      oo, j
人

ea)   民族 5X
He 1970年3月8日

住址”广东省广州市天河区体育 “
西路237号9栋1778室 ©

公民身份呈码。” 440106197003083671

(女) 中华人民共和国

居民身份证 :

| 签发机关 广州市公安局     |
有效期限“2018.08.18-2028.08.18 -   |
"""


def test_tesseract_permit_with_stray_quotes() -> None:
    assert values(extract("bank_permit", TESSERACT_PERMIT)) == {
        "approval_number": "J3101582960356",
        "serial_number": "3101-09135402",
        "depositor_name": "上海金桥物流有限公司",
        "legal_representative": "胡志强",
        "bank_name": "中国银行股份有限公司上海分行",
        "account_number": "0740114701938074416",
        "issue_date": None,
    }


def test_tesseract_id_copy_with_garbled_labels() -> None:
    fields = extract("id_card", TESSERACT_ID)
    assert values(fields) | {"name": None, "gender": None, "ethnicity": None} == {
        "name": None,
        "gender": None,
        "ethnicity": None,
        "birth_date": "1970-03-08",
        "address": "广东省广州市天河区体育西路237号9栋1778室",
        "id_number": "440106197003083671",
        "issuing_authority": "广州市公安局",
        "valid_from": "2018-08-18",
        "valid_to": "2028-08-18",
    }
    # Unreadable labels are never guessed: those fields go to review as missing, except the
    # gender, which the valid number states (a note says so)
    assert fields["name"].reasons == fields["ethnicity"].reasons == ["missing"]
    assert (fields["gender"].value, fields["gender"].reasons) == ("男", ["from_id_number"])
    assert fields["birth_date"].confidence < 0.9  # read by pattern, not label


def test_symbols_read_from_ticks_and_emblems_are_not_part_of_a_value() -> None:
    text = "姓名 ☑王强\n性别 男 民族 汉\n公民身份号码 330106198012196239"
    assert extract_fields("id_card", text, today=date(2026, 11, 1))["name"].value == "王强"

"""Contract parties: the USCC printed in each party's block (ingest/extract/parties.py)."""

from __future__ import annotations

from ingest.extract import extract_fields
from tests.fixtures.db import make_uscc

A, B = make_uscc(701), make_uscc(702)


def _contract(head: str) -> str:
    return (
        "技术服务合同\n合同编号：HT-2024-0099\n"
        + head
        + "签订日期：2024年3月1日\n甲方应在收到乙方开具的发票后十五日内付款。\n"
        "甲方（盖章）：          乙方（盖章）：\n"
    )


def _values(text: str) -> dict[str, object]:
    fields = extract_fields("contract", text)
    return {k: fields[k].value for k in ("party_a", "party_b", "party_a_uscc", "party_b_uscc")}


def test_each_party_gets_the_code_printed_in_its_block() -> None:
    text = _contract(
        f"甲方：北京甲方科技有限公司\n统一社会信用代码：{A}\n地址：北京市海淀区中关村1号\n"
        f"乙 方 ： 上海乙方贸易有限公司 统一社会信用代码 ： {B}\n"
    )
    assert _values(text) == {
        "party_a": "北京甲方科技有限公司",
        "party_b": "上海乙方贸易有限公司",
        "party_a_uscc": A,
        "party_b_uscc": B,
    }


def test_codes_in_the_signature_blocks_count_too() -> None:
    text = (
        "采购合同\n甲方：北京甲方科技有限公司\n乙方：上海乙方贸易有限公司\n"
        "甲方应按期付款。\n甲方（盖章）：北京甲方科技有限公司\n"
        f"统一社会信用代码：{A}\n乙方（盖章）：上海乙方贸易有限公司\n统一社会信用代码：{B}\n"
    )
    values = _values(text)
    assert (values["party_a_uscc"], values["party_b_uscc"]) == (A, B)


def test_an_invalid_code_is_no_code_and_a_clause_opens_no_block() -> None:
    broken = A[:-1] + ("0" if A[-1] != "0" else "1")
    text = (
        _contract(
            f"甲方：北京甲方科技有限公司\n统一社会信用代码：{broken}\n乙方：上海乙方贸易有限公司\n"
        )
        + f"乙方应开具发票，纳税识别号 {B}\n"
    )
    values = _values(text)
    assert values["party_a_uscc"] is None
    assert values["party_b_uscc"] is None


def test_two_codes_in_one_block_are_a_doubt() -> None:
    text = _contract(f"甲方：北京甲方科技有限公司\n统一社会信用代码：{A}\n{B}\n乙方：某人\n")
    field = extract_fields("contract", text)["party_a_uscc"]
    assert field.value == A
    assert field.reasons == ["uscc_candidates_mismatch"]

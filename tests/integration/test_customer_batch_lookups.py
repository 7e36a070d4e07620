"""Batch look-ups by identifier while one transaction fills the customer table (an import, issue
17), on SQLite and PostgreSQL: the right customers in id order, the search grams of customers
created in bulk, and on PostgreSQL plans through the B-tree indexes (``repo.base.by_index``)
with the planner settings put back afterwards."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models import repo
from models.customer import Customer, CustomerCreate
from models.repo.base import by_index, dialect
from models.search_gram import CustomerGram, search_grams
from tests.fixtures.db import make_uscc

BATCHES, BATCH = 3, 400
SETTINGS = ("enable_bitmapscan", "enable_seqscan", "plan_cache_mode")


def _fill(session: Session) -> list[str]:
    """Customers created batch by batch in the session's one open transaction."""
    codes: list[str] = []
    for b in range(BATCHES):
        rows = [
            CustomerCreate.model_validate({
                "name": f"批量{n}号科技有限公司", "customer_type": "enterprise",
                "uscc": make_uscc(n), "legal_representative": "王五",
                "established_date": "2015-03-12", "address": "北京市海淀区中关村大街1号",
                "contact_person": f"联系人{n % 7}"})
            for n in range(b * BATCH, (b + 1) * BATCH)
        ]  # fmt: skip
        codes += repo.create_customers(session, rows=rows, actor="t")
    return codes


def _settings(session: Session) -> tuple[str, ...]:
    reads = ", ".join(f"current_setting('{n}')" for n in SETTINGS)
    return tuple(session.execute(sa.text(f"SELECT {reads}")).one())


def test_batch_look_ups_in_a_filling_transaction(session):
    codes = _fill(session)
    assert len(set(codes)) == BATCHES * BATCH
    by_code = {c.code: c for c in session.exec(select(Customer))}
    some_codes = codes[5:400:3]
    some_usccs = [make_uscc(n) for n in range(600, 1100, 7)]
    found = repo.customers_by_identifiers(session, codes=some_codes, usccs=some_usccs)
    expected = {by_code[c].id for c in some_codes} | {
        c.id for c in by_code.values() if c.uscc in set(some_usccs)
    }
    assert [c.id for c in found] == sorted(expected)
    assert len(found) == len(some_codes) + len(some_usccs)
    # Every new customer got its grams (written in bulk: one statement a chunk on PostgreSQL).
    grams = session.exec(select(CustomerGram.gram).where(CustomerGram.customer_id == found[0].id))
    assert set(grams) == search_grams([found[0].name_key, found[0].contact_person]) != set()
    total = session.exec(select(sa.func.count()).select_from(CustomerGram)).one()
    assert total == sum(len(search_grams([c.name_key, c.contact_person]))
                        for c in by_code.values())  # fmt: skip


def test_look_ups_use_the_unique_index_and_put_the_settings_back(session):
    codes = _fill(session)
    if dialect(session) != "postgresql":
        with by_index(session):  # nothing to set elsewhere
            assert repo.customers_by_identifiers(session, codes=codes[:3])
        return
    before = _settings(session)
    query = select(Customer.id).where(col(Customer.code).in_(codes[-500:]))
    sql = str(query.compile(dialect=session.get_bind().dialect,
                            compile_kwargs={"literal_binds": True}))  # fmt: skip
    with by_index(session):
        assert _settings(session) == ("off", "off", "force_custom_plan")
        plan = "\n".join(session.execute(sa.text(f"EXPLAIN {sql}")).scalars())
    assert "uq_customer_code" in plan, plan
    assert "trgm" not in plan, plan
    assert _settings(session) == before

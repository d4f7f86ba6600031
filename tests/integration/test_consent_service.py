"""The consent register over SQLite and PostgreSQL: add, revoke, import, look up, block."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import Actor
from telmark.audit.models import AuditEntry
from telmark.consent import service
from telmark.consent.domain import Channel, ConsentKind, ConsentRule, Source, is_contactable
from telmark.consent.importing import ConsentFileRejected
from telmark.consent.models import ConsentEntry
from telmark.consent.schemas import ConsentEntryCreate, ConsentFilters, EntryStatus
from telmark.db import utcnow
from telmark.errors import Conflict, Forbidden, InvalidInput, NotFound
from telmark.uow import UnitOfWork

AGENT = Actor(username="agent.zhou", user_id=12, channel="web")
A, B, C = "13812345678", "13987654321", "15011112222"
GOOD = (
    "msisdn,kind,channel,reason,source\n"
    f"{A},opt_out,sms,客户来电,customer_request\n"
    f"{B},dnd,all,,\n"
    f"{C},blacklist,all,工信部通报,\n"
    f"{A},opt_out,sms,重复行,\n"  # the same entry twice in one file
).encode("gbk")


def add(uow: UnitOfWork, msisdn: str, kind: ConsentKind, channel: Channel) -> int:
    entry = ConsentEntryCreate(msisdn=msisdn, kind=kind, channel=channel, reason="test")
    return service.add_entry(uow=uow, entry=entry, unmask=True).id


def audit(uow: UnitOfWork, action: str) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    return list(uow.session.scalars(stmt))


def test_add_masks_unless_unmasked_and_refuses_duplicates(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=AGENT) as uow:
        entry = ConsentEntryCreate(msisdn=f" {A} ", kind="opt_out", channel="sms", reason="来电")
        shown = service.add_entry(uow=uow, entry=entry, unmask=False)
        assert (shown.msisdn, shown.masked, shown.in_force) == ("138****5678", True, True)
        assert shown.created_by == "agent.zhou"
        assert audit(uow, "read") == []  # nothing shown in clear, nothing to record
        with pytest.raises(Conflict, match="already on the register"):
            service.add_entry(uow=uow, entry=entry, unmask=False)
        # Another channel or kind is another entry.
        other = entry.model_copy(update={"channel": Channel.EMAIL})
        assert service.add_entry(uow=uow, entry=other, unmask=True).msisdn == A
        with pytest.raises(InvalidInput):
            service.add_entry(
                uow=uow, entry=entry.model_copy(update={"msisdn": "12345"}), unmask=False
            )
        with pytest.raises(InvalidInput, match="set by imports"):
            service.add_entry(
                uow=uow, entry=entry.model_copy(update={"source": Source.IMPORT}), unmask=False
            )
        (created,) = [e for e in audit(uow, "create") if e.after and e.after["channel"] == "sms"]
        assert created.actor_username == "agent.zhou"
        assert created.after is not None
        assert created.after["msisdn"] == A


def test_list_masks_and_audits_unmasked_reads(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=AGENT) as uow:
        add(uow, A, ConsentKind.OPT_OUT, Channel.SMS)
        add(uow, B, ConsentKind.DND, Channel.ALL)
        reads_before = len(audit(uow, "read"))
        masked = service.list_entries(uow=uow, filters=ConsentFilters(), unmask=False)
        assert {e.msisdn for e in masked.items} == {"138****5678", "139****4321"}
        assert len(audit(uow, "read")) == reads_before
        clear = service.list_entries(uow=uow, filters=ConsentFilters(msisdn=A), unmask=True)
        assert [e.msisdn for e in clear.items] == [A]
        read = audit(uow, "read")[-1]
        assert read.actor_username == "agent.zhou"
        assert read.entity_type == "consent_entry"
        assert read.after is not None
        assert read.after["msisdn"] == A  # the looked-up number, masked when the log is shown
        assert read.after["ids"] == [str(clear.items[0].id)]


def test_filters_and_channel_all(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=AGENT) as uow:
        add(uow, A, ConsentKind.OPT_OUT, Channel.SMS)
        add(uow, B, ConsentKind.DND, Channel.ALL)
        gone = add(uow, C, ConsentKind.OPT_OUT, Channel.SMS)
        service.revoke_entry(uow=uow, entry_id=gone, reason="", may_manage=False, unmask=False)

        def numbers(**filters: object) -> set[str]:
            page = service.list_entries(uow=uow, filters=ConsentFilters(**filters), unmask=True)
            return {e.msisdn for e in page.items}

        assert numbers() == {A, B}
        assert numbers(channel=Channel.SMS) == {A, B}  # "all" covers sms
        assert numbers(channel=Channel.EMAIL) == {B}
        assert numbers(kind=ConsentKind.DND) == {B}
        assert numbers(status=EntryStatus.REVOKED) == {C}
        assert numbers(status=EntryStatus.ALL) == {A, B, C}


def test_revocation_rules(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=AGENT) as uow:
        opt_out = add(uow, A, ConsentKind.OPT_OUT, Channel.SMS)
        black = add(uow, C, ConsentKind.BLACKLIST, Channel.ALL)
        revoked = service.revoke_entry(
            uow=uow, entry_id=opt_out, reason="", may_manage=False, unmask=False
        )
        assert (revoked.in_force, revoked.revoked_by) == (False, "agent.zhou")
        with pytest.raises(Conflict, match="already revoked"):
            service.revoke_entry(
                uow=uow, entry_id=opt_out, reason="", may_manage=True, unmask=False
            )
        with pytest.raises(Forbidden):
            service.revoke_entry(
                uow=uow, entry_id=black, reason="x", may_manage=False, unmask=False
            )
        with pytest.raises(InvalidInput, match="reason"):
            service.revoke_entry(uow=uow, entry_id=black, reason="", may_manage=True, unmask=False)
        with pytest.raises(NotFound):
            service.revoke_entry(uow=uow, entry_id=-1, reason="", may_manage=True, unmask=False)
        lifted = service.revoke_entry(
            uow=uow, entry_id=black, reason="通报撤销", may_manage=True, unmask=False
        )
        assert lifted.revoke_reason == "通报撤销"
        # The revoked entry stays on record, and the number may be added again.
        assert add(uow, A, ConsentKind.OPT_OUT, Channel.SMS) != opt_out
        (update,) = [e for e in audit(uow, "update") if e.entity_id == str(black)]
        assert update.after is not None
        assert update.after["revoke_reason"] == "通报撤销"
        assert update.before is not None
        assert update.before["revoked_at"] is None


def test_import_is_all_or_nothing(db: sessionmaker[Session]) -> None:
    bad = GOOD.decode("gbk").replace(f"{B},dnd,all", f"{B},dnd,fax").encode("gbk")
    bad += b"1381234567,opt_out,sms,,\n"
    with UnitOfWork(db, actor=AGENT) as uow:
        with pytest.raises(ConsentFileRejected) as caught:
            service.import_file(uow=uow, data=bad, file_name="optouts.csv")
        assert {(d["file"], d["row"], d["column"]) for d in caught.value.details} == {
            ("optouts.csv", 3, "channel"),
            ("optouts.csv", 6, "msisdn"),
        }
        assert uow.session.scalar(select(ConsentEntry.id)) is None
        assert service.list_imports(uow=uow) == []


def test_import_is_idempotent(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=AGENT) as uow:
        add(uow, B, ConsentKind.DND, Channel.ALL)  # already in force before the import
        first = service.import_file(uow=uow, data=GOOD, file_name="optouts.csv")
        assert (first.rows, first.added, first.already_present) == (4, 2, 2)
        assert (first.encoding, first.imported_by, first.repeated) == (
            "gb18030",
            "agent.zhou",
            False,
        )
        entries = service.list_entries(uow=uow, filters=ConsentFilters(), unmask=True).items
        assert len(entries) == 3
        imported = {e.msisdn: e for e in entries if e.import_id == first.id}
        assert imported[A].source is Source.CUSTOMER_REQUEST
        assert imported[A].reason == "客户来电"
        assert imported[C].source is Source.IMPORT

        # Revoke one, then import the same file again: nothing is added back.
        service.revoke_entry(
            uow=uow, entry_id=imported[A].id, reason="", may_manage=False, unmask=False
        )
        again = service.import_file(uow=uow, data=GOOD, file_name="copy.csv")
        assert (again.repeated, again.added, again.id) == (True, 0, first.id)
        count = service.list_entries(uow=uow, filters=ConsentFilters(status="all"), unmask=False)
        assert count.total == 3
        # A different file naming the same entries adds only what is not in force.
        other = GOOD + f"{A},opt_out,email,,\n".encode()
        third = service.import_file(uow=uow, data=other, file_name="more.csv")
        assert (third.added, third.already_present) == (2, 3)  # A/sms again (revoked), A/email
        assert [i.id for i in service.list_imports(uow=uow)] == [third.id, first.id]


def test_blocked_msisdns_follow_the_contact_rule(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=AGENT) as uow:
        add(uow, A, ConsentKind.OPT_OUT, Channel.SMS)
        add(uow, B, ConsentKind.DND, Channel.ALL)
        gone = add(uow, C, ConsentKind.OPT_OUT, Channel.EMAIL)
        before_revocation = utcnow()
        service.revoke_entry(uow=uow, entry_id=gone, reason="", may_manage=False, unmask=False)
        rows = uow.session.scalars(select(ConsentEntry)).all()
        rules = [ConsentRule(r.msisdn, r.kind, r.channel, r.created_at, r.revoked_at) for r in rows]
        for moment in (utcnow(), before_revocation, utcnow() - timedelta(days=1)):
            for channel in Channel:
                table = service.blocked_msisdns(uow=uow, channel=channel, now=moment)
                assert table.column_names == ["msisdn"]
                expected = sorted(
                    m for m in (A, B, C) if not is_contactable(rules, m, channel, moment)
                )
                assert table.column("msisdn").to_pylist() == expected, (channel, moment)
        assert service.blocked_msisdns(uow=uow, channel=Channel.SMS).num_rows == 2


def test_check_contact(db: sessionmaker[Session]) -> None:
    with UnitOfWork(db, actor=AGENT) as uow:
        add(uow, A, ConsentKind.OPT_OUT, Channel.SMS)
        blocked = service.check_contact(uow=uow, msisdn=A, channel=Channel.SMS, unmask=False)
        assert (blocked.contactable, blocked.msisdn) == (False, "138****5678")
        assert [e.kind for e in blocked.blocking] == [ConsentKind.OPT_OUT]
        free = service.check_contact(uow=uow, msisdn=A, channel=Channel.EMAIL, unmask=True)
        assert (free.contactable, free.blocking, free.msisdn) == (True, [], A)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("DELETE FROM consent_entry", "revoked, not deleted"),
        ("UPDATE consent_entry SET msisdn = '13900000000'", "only be revoked"),
        ("UPDATE consent_entry SET kind = 'dnd'", "only be revoked"),
    ],
)
def test_database_keeps_entries_revocable_only(
    db: sessionmaker[Session], statement: str, message: str
) -> None:
    with UnitOfWork(db, actor=AGENT) as uow:
        entry_id = add(uow, A, ConsentKind.OPT_OUT, Channel.SMS)
        session = uow.session
        with pytest.raises(DBAPIError, match=message), session.begin_nested():
            session.execute(text(statement))
        service.revoke_entry(uow=uow, entry_id=entry_id, reason="", may_manage=False, unmask=False)
        with pytest.raises(DBAPIError, match="only be revoked"), session.begin_nested():
            session.execute(text("UPDATE consent_entry SET revoke_reason = 'rewritten'"))

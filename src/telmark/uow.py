"""Unit of work: owns one session; changes land only on an explicit ``commit()``.

Services receive a ``UnitOfWork`` and call ``uow.commit()`` once their use case
is complete; leaving the ``with`` block without a commit rolls everything back,
so a failure halfway never leaves half a change behind.

Every change the session flushes is written to the audit trail in the same
transaction, attributed to ``uow.actor`` as it is when the flush happens
(``telmark.audit.capture`` explains how).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType
from typing import Self

from sqlalchemy.orm import Session, sessionmaker

from telmark.actor import SYSTEM, Actor
from telmark.audit import capture
from telmark.config import get_settings
from telmark.db import get_session_factory


class UnitOfWork:
    def __init__(
        self, session_factory: sessionmaker[Session] | None = None, *, actor: Actor = SYSTEM
    ) -> None:
        self._factory = session_factory or get_session_factory(get_settings().resolved_database_url)
        self._session: Session | None = None
        # Who the changes made through this unit of work are attributed to; routes
        # replace it with the signed-in user once authentication has run.
        self.actor = actor

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside its with-block")
        return self._session

    def __enter__(self) -> Self:
        self._session = self._factory()
        capture.attach(self._session, self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            self._session.rollback()
        finally:
            capture.detach(self._session)
            self._session.close()
            self._session = None

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()


def uow_dependency() -> Iterator[UnitOfWork]:
    """FastAPI dependency: one unit of work per request."""
    with UnitOfWork() as uow:
        yield uow

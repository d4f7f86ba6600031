"""Every ORM model, imported in one place so Alembic and tests see the full metadata."""

from telmark.db import Base
from telmark.org.models import OrgUnit, Staff

__all__ = ["Base", "OrgUnit", "Staff"]

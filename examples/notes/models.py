"""The notes site's tables: users and their notes (SQLAlchemy 2, typed with ``Mapped``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from kettle import UserMixin

USERNAME_MAX = 32
TITLE_MAX = 200
BODY_MAX = 10_000


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    # Named constraints, so that a later Alembic migration can refer to them.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class User(UserMixin, Base):
    """A registered user; ``UserMixin`` gives kettle's login what it needs (``get_id``)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-case: "Ada" and "ada" are the same account.
    username: Mapped[str] = mapped_column(String(USERNAME_MAX), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    notes: Mapped[list[Note]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"


class Note(Base):
    """One note, owned by one user; optionally with one image kept in the upload folder."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    body: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    #: The image's file name in the upload folder (ours, never the client's), its media
    #: type as detected from its content, and the name the user gave it (for display).
    image_file: Mapped[str | None] = mapped_column(String(300), default=None)
    image_type: Mapped[str | None] = mapped_column(String(50), default=None)
    image_name: Mapped[str | None] = mapped_column(String(300), default=None)

    owner: Mapped[User] = relationship(back_populates="notes")

    def __repr__(self) -> str:
        return f"<Note {self.id} {self.title!r}>"

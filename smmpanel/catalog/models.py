"""Categories, services and their translations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from smmpanel.db import Base
from smmpanel.timeutil import utcnow


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class CategoryTranslation(Base):
    __tablename__ = "category_translations"

    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True
    )
    lang: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))


class Service(Base):
    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("rate >= 0", name="service_rate_not_negative"),
        CheckConstraint(
            "min_quantity >= 1 AND max_quantity >= min_quantity", name="service_bounds"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    # Price per 1000 units in the base currency, minor units.
    rate: Mapped[int] = mapped_column(BigInteger)
    min_quantity: Mapped[int] = mapped_column(BigInteger)
    max_quantity: Mapped[int] = mapped_column(BigInteger)
    dripfeed: Mapped[bool] = mapped_column(Boolean, default=False)
    refill: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: the panel's default refill window.
    refill_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cancel: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    link_required: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ServiceTranslation(Base):
    __tablename__ = "service_translations"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    lang: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)


class AccountServiceRate(Base):
    """A per-account price for one service, in the base currency."""

    __tablename__ = "account_service_rates"
    __table_args__ = (CheckConstraint("rate >= 0", name="custom_rate_not_negative"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), primary_key=True)
    rate: Mapped[int] = mapped_column(BigInteger)


class ServiceSource(Base):
    """A local service forwarded to an upstream service; several in priority order."""

    __tablename__ = "service_sources"
    __table_args__ = (UniqueConstraint("service_id", "provider_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    upstream_service_id: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=1)
    # Price sync: local rate = upstream rate x (1 + percent/100) + fixed, rounded.
    # NULL markup: the owner prices this service by hand; sync leaves its rate.
    markup_percent: Mapped[str | None] = mapped_column(String(32), nullable=True)
    markup_fixed: Mapped[int] = mapped_column(BigInteger, default=0)
    round_places: Mapped[int] = mapped_column(Integer, default=5)


class CatalogVersion(Base):
    """One row, bumped by database triggers on every change of a table the API's
    `services` answer is made of (migration 0019): the key of its cache."""

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)

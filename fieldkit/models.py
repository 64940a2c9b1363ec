"""Tables of FieldKit. Columns and relationships only; rules live in the domain modules."""
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Synced, UTCDateTime, db

ROLES = ("admin", "pm", "tech", "client")
ITEM_STATUSES = ("todo", "pass", "fail", "na")
ASSET_STATUSES = ("ordered", "received", "installed", "verified")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Counter(db.Model):
    """Named counters; `sync` numbers every change phones pull (see db.next_seq)."""

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Client(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sites: Mapped[list["Site"]] = relationship(back_populates="client")


class User(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(10))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("client.id"))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    client: Mapped[Client | None] = relationship()
    # The browser session this request signed in with (set by web.extensions): Flask-Login keeps it in the
    # cookie instead of the user's id, so ending the LoginSession row ends that cookie.
    login_session_id = None

    # What Flask-Login asks of a signed-in user (web.extensions signs people in; the model needs no Flask).
    is_authenticated, is_anonymous = True, False

    def get_id(self) -> str:
        if self.login_session_id is None:
            raise AttributeError("A user is signed in through accounts.start_session, never by id.")
        return self.login_session_id

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]


class ApiToken(db.Model):
    """A bearer token for scripts and devices; only its SHA-256 is stored. It ends at `expires_at` or when revoked."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class LoginSession(db.Model):
    """A signed-in browser: its cookie names a random id of which only the SHA-256 is stored here, so deleting
    the row (sign-out, password change, an admin's revoke) ends that cookie and its remember-me cookie."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(default=False)  # kept across browser restarts (a technician's phone)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


site_technician = Table(
    "site_technician",
    db.metadata,
    Column("site_id", ForeignKey("site.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
)


class Site(Synced, db.Model):
    """A client's location or project, with the readiness last computed for it (kept fresh on write)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("client.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text, default="")
    move_in: Mapped[date] = mapped_column(Date)
    rooms: Mapped[list] = mapped_column(JSON, default=list)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seq: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    # Readiness summary, refreshed by verdicts.refresh() in the same transaction as any change.
    status: Mapped[str] = mapped_column(String(10), default="AT_RISK")
    score: Mapped[int] = mapped_column(Integer, default=0)
    blocker_count: Mapped[int] = mapped_column(Integer, default=0)
    disputed_count: Mapped[int] = mapped_column(Integer, default=0)
    overdue_count: Mapped[int] = mapped_column(Integer, default=0)
    readiness: Mapped[dict] = mapped_column(JSON, default=dict)
    readiness_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_off_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_after_signoff: Mapped[bool] = mapped_column(default=False)

    client: Mapped[Client] = relationship(back_populates="sites")
    technicians: Mapped[list[User]] = relationship(secondary=site_technician, order_by="User.email")
    checklists: Mapped[list["Checklist"]] = relationship(back_populates="site", order_by="Checklist.id")


class Checklist(db.Model):
    """A template applied to a site; the template as it was then is frozen in `template`."""

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    template_key: Mapped[str] = mapped_column(String(80))
    template_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    threshold: Mapped[int] = mapped_column(Integer, default=90)
    weights: Mapped[dict] = mapped_column(JSON, default=dict)
    template: Mapped[dict] = mapped_column(JSON, default=dict)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    site: Mapped[Site] = relationship(back_populates="checklists")


class Item(Synced, db.Model):
    """One checklist line on a site (one per room for per-room lines)."""

    __table_args__ = (UniqueConstraint("checklist_id", "key", "room", name="uq_item_checklist_key_room"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklist.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(80))
    room: Mapped[str | None] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    guidance: Mapped[str] = mapped_column(Text, default="")
    client_text: Mapped[str | None] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(80))
    severity: Mapped[str] = mapped_column(String(10))
    photos_required: Mapped[int] = mapped_column(Integer, default=0)
    thresholds: Mapped[dict] = mapped_column(JSON, default=dict)
    depends_on: Mapped[list] = mapped_column(JSON, default=list)
    asset_kind: Mapped[str | None] = mapped_column(String(40))
    assets_required: Mapped[int] = mapped_column(Integer, default=0)
    due: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(4), default="todo")
    note: Mapped[str] = mapped_column(Text, default="")
    measurements: Mapped[dict] = mapped_column(JSON, default=dict)
    disputed: Mapped[bool] = mapped_column(default=False)
    rev: Mapped[int] = mapped_column(Integer, default=1)
    seq: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    updated_by: Mapped[User | None] = relationship()


class ItemEvent(db.Model):
    """The history of an item: every change with who, when, from which device; conflicts keep both values."""

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    rev: Mapped[int] = mapped_column(Integer)
    base_rev: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # update | conflict | dispute | resolve
    changes: Mapped[dict] = mapped_column(JSON, default=dict)  # {"status": ["todo", "pass"], ...}
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    device_id: Mapped[str | None] = mapped_column(String(100))
    mutation_id: Mapped[str | None] = mapped_column(String(36))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()


class Asset(Synced, db.Model):
    """A piece of hardware with a QR tag; `id` is the UUID the phone made."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    tag: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    make: Mapped[str] = mapped_column(String(120), default="")
    model: Mapped[str] = mapped_column(String(120), default="")
    serial: Mapped[str] = mapped_column(String(120), default="")
    mac: Mapped[str] = mapped_column(String(17), default="")
    room: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(10), default="ordered")
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id", ondelete="SET NULL"), index=True)
    rev: Mapped[int] = mapped_column(Integer, default=1)
    seq: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AssetEvent(db.Model):
    """The history of an asset: what each change set, by whom, when and from where (a phone's device id,
    "web" for the site page's form, "csv import"). A change made on a stale revision is a conflict: its
    `changes` keep the value it overwrote beside the new one, so neither is lost."""

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[str] = mapped_column(ForeignKey("asset.id", ondelete="CASCADE"), index=True)
    rev: Mapped[int] = mapped_column(Integer)
    base_rev: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # create | update | conflict
    changes: Mapped[dict] = mapped_column(JSON, default=dict)  # {"serial": ["", "FGT60F..."], ...}
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    device_id: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()


class Photo(Synced, db.Model):
    """Photo evidence; the file lives content-addressed under PHOTO_DIR by `sha256`."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("item.id", ondelete="SET NULL"), index=True)
    asset_id: Mapped[str | None] = mapped_column(ForeignKey("asset.id", ondelete="SET NULL"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    gps_lat: Mapped[float | None]
    gps_lon: Mapped[float | None]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    response: Mapped[dict] = mapped_column(JSON, default=dict)  # the first answer, replayed for the same id
    seq: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Mutation(db.Model):
    """A change a device sent, recorded in the same transaction as its effect so it applies once."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    payload_hash: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(40))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    device_id: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(10))  # applied | conflict
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceSync(db.Model):
    """When each technician's device last synced with a site: shown on the board."""

    __table_args__ = (UniqueConstraint("site_id", "user_id", "device_id", name="uq_device_sync"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    device_id: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()


class Signoff(db.Model):
    """A client's signature over an immutable snapshot of the site; `sha256` is of `snapshot`."""

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    name: Mapped[str] = mapped_column(String(200))
    signature_png: Mapped[bytes] = mapped_column(LargeBinary)
    snapshot: Mapped[str] = mapped_column(Text)  # canonical JSON
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(db.Model):
    """One notification to send or sent; every attempt is recorded for the PM."""

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sent | failed
    attempts: Mapped[list] = mapped_column(JSON, default=list)  # [{"at","status_code"|"error"}]
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

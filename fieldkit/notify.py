"""Notifications: signed webhooks when a site's verdict changes or a blocker fails, sent off the request path.

How it works:
- `sites.refresh` calls `after_refresh` with the readiness stored before; when the verdict changed or a
  blocker newly failed, one WebhookDelivery per webhook URL (the site's and its client's) is added to the
  same transaction. Nothing is sent while a request is being answered.
- A background thread in every app process (`Worker`, started lazily on the first request) calls
  `deliver_due` every few seconds, and at once after a commit that enqueued something. It claims each due
  delivery with `UPDATE ... WHERE status='pending' AND next_attempt_at <= now` (setting a short lease), so
  two processes or threads never send the same attempt; a worker that dies mid-send releases the row when
  its lease runs out.
- Each request is a JSON POST with a Slack/Teams-compatible `text` plus structured fields, signed:
  `X-FieldKit-Timestamp: <unix seconds>` and `X-FieldKit-Signature: sha256=<hex HMAC-SHA256 over
  "<timestamp>.<body>">`. The secret is FIELDKIT_WEBHOOK_SECRET, or when unset one derived from SECRET_KEY
  (`signing_secret`); receivers need the configured one, so set it in production.
- Webhooks go to public addresses only: a URL naming an internal host (loopback, private, link-local, ...)
  is refused when saved, and the host is resolved again before every send, so a name that later points
  inside the network is refused too (recorded as the attempt's error). FIELDKIT_WEBHOOK_ALLOW_INTERNAL=1
  lifts this for a relay on the provider's own network.
- A 2xx answer marks the delivery sent. Anything else (status, timeout, refused connection) is recorded as
  an attempt and retried after 30 s, 2 min, 10 min, 1 h and 6 h; after MAX_ATTEMPTS it is marked failed.
"""
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import requests
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from .dates import day, move_in_sentence
from .errors import ValidationError
from .models import Site, WebhookDelivery

log = logging.getLogger(__name__)

BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1),
           timedelta(hours=6))
MAX_ATTEMPTS = len(BACKOFF) + 1
LEASE = timedelta(minutes=2)  # longer than any send can take: a claimed row is not due again before then
URL_LIMIT = 2000
BATCH = 20
LABELS = {"GO": "ready to go live", "AT_RISK": "at risk", "NO_GO": "not ready to go live"}
SHORT = {"GO": "Go", "AT_RISK": "At risk", "NO_GO": "No go"}


def clean_url(value, field: str = "webhook URL", *, allow_internal: bool = False) -> str | None:
    """An http(s) URL to POST to, or None for an empty value; a ValidationError otherwise.

    A host written as an internal address (or `localhost`) is refused unless `allow_internal`; names are
    resolved only when sending (see `internal_address`), so saving works without DNS."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"The {field} must be text.", "bad_url")
    url = value.strip()
    if not url:
        return None
    if len(url) > URL_LIMIT or any(ch.isspace() for ch in url):
        raise ValidationError(f"The {field} must be one URL of at most {URL_LIMIT} characters.", "bad_url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValidationError(f"The {field} is not a valid URL.", "bad_url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"The {field} must start with https:// (or http://) and name a host.", "bad_url")
    host = parts.hostname
    if not allow_internal and (host == "localhost" or host.endswith(".localhost") or _internal(host)):
        raise ValidationError(f"The {field} points inside this network ({host}); webhooks go to public "
                              "addresses only.", "internal_url")
    return url


def _internal(address: str) -> bool:
    """True for an IP address that is not on the public internet; False for anything else (a name)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def internal_address(url: str) -> str | None:
    """The first internal address the URL's host resolves to, or None when every one is public.

    A name that does not resolve is left to the request itself, which then fails to connect."""
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    return next((info[4][0] for info in infos if _internal(info[4][0])), None)


# --------------------------------------------------------------------------- enqueueing


def failed_blockers(verdict) -> list[int]:
    """Ids of the blockers that failed (not merely open) in a readiness.Verdict."""
    return [b["item_id"] for b in verdict.blockers if verdict.items[b["item_id"]].failed]


def after_refresh(session: Session, site: Site, previous: dict | None, verdict) -> list[WebhookDelivery]:
    """Enqueue notifications when the verdict changed or a blocker newly failed since `previous` (the
    readiness JSON stored before; None when this is the site's first verdict, which notifies no one)."""
    if not previous:
        return []
    old_status = previous.get("status")
    known_failed = set(previous.get("failed_blockers", failed_blockers(verdict)))
    newly_failed = [b for b in verdict.blockers
                    if verdict.items[b["item_id"]].failed and b["item_id"] not in known_failed]
    if old_status == verdict.status and not newly_failed:
        return []
    urls = webhook_urls(site)
    if not urls:
        return []
    event_name = "verdict_changed" if old_status != verdict.status else "blocker_failed"
    payload = message(site, event_name, old_status, verdict, newly_failed)
    deliveries = [WebhookDelivery(site_id=site.id, url=url, event=event_name, payload=payload) for url in urls]
    session.add_all(deliveries)
    session.info["webhooks_enqueued"] = True
    return deliveries


def webhook_urls(site: Site) -> list[str]:
    """The site's own webhook and its client's (global) one, each once."""
    return list(dict.fromkeys(url for url in (site.webhook_url, site.client.webhook_url) if url))


def message(site: Site, event_name: str, old_status: str | None, verdict, newly_failed: list[dict]) -> dict:
    """The JSON body (before the link is added at send time): `text` for Slack/Teams, fields for scripts."""
    name = f"{site.name} ({site.client.name})"
    if event_name == "verdict_changed":
        head = (f"{name} is now {LABELS.get(verdict.status, verdict.status)}"
                f" (was {LABELS.get(old_status, old_status or 'unknown')}).")
    else:
        head = f"{name}: a critical item failed its check."
    lines = [head, f"Readiness score {verdict.score}/100, move-in {site.move_in.isoformat()}."]
    lines += [f"Failed: {b['title']}. {b['reason']}" for b in newly_failed]
    if event_name == "verdict_changed" and verdict.reasons:
        lines.append(verdict.reasons[0])
    return {
        "event": event_name,
        "text": "\n".join(lines),
        "site": {"id": site.id, "name": site.name, "client": site.client.name,
                 "move_in": site.move_in.isoformat()},
        "status": verdict.status,
        "previous_status": old_status,
        "score": verdict.score,
        "reasons": list(verdict.reasons[:5]),
        "failed_blockers": [{"item_id": b["item_id"], "title": b["title"], "reason": b["reason"]}
                            for b in newly_failed],
        "path": f"/sites/{site.id}",
    }


# --------------------------------------------------------------------------- sending


def signing_secret(webhook_secret: str | None, secret_key: str) -> bytes:
    """FIELDKIT_WEBHOOK_SECRET when set; otherwise a key derived from SECRET_KEY (never SECRET_KEY itself)."""
    if webhook_secret:
        return webhook_secret.encode()
    return hmac.new(secret_key.encode(), b"fieldkit webhook signing", hashlib.sha256).hexdigest().encode()


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """The X-FieldKit-Signature value: HMAC-SHA256 over "<timestamp>.<body>"."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def body_of(delivery: WebhookDelivery, base_url: str) -> bytes:
    payload = dict(delivery.payload)
    url = base_url.rstrip("/") + payload.pop("path", "/")
    payload.update(url=url, delivery_id=delivery.id, text=f"{payload.get('text', '')}\n{url}")
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")


def post(url: str, body: bytes, headers: dict, timeout: float) -> int:
    """Send one request and return the status code; reads at most a little of the answer."""
    with requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False,
                       stream=True) as response:
        return response.status_code


def deliver_due(session: Session, now: datetime, *, secret: bytes, base_url: str, timeout: float = 5.0,
                send: Callable[[str, bytes, dict, float], int] = post, limit: int = BATCH,
                allow_internal: bool = False) -> int:
    """Send the deliveries due at `now` that this caller manages to claim; returns how many it attempted.

    Each is claimed in its own short transaction before the request is made, so no database lock is held
    while waiting on a remote server, and a row claimed by another process is skipped.
    """
    due = session.execute(
        select(WebhookDelivery.id).where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)).scalars().all()
    session.commit()
    attempted = 0
    for delivery_id in due:
        claimed = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
                   WebhookDelivery.next_attempt_at <= now)
            .values(next_attempt_at=now + LEASE).execution_options(synchronize_session=False)).rowcount
        session.commit()
        if claimed != 1:
            continue
        delivery = session.get(WebhookDelivery, delivery_id)
        attempt = _attempt(delivery, now, secret, base_url, timeout, send, allow_internal)
        _record(delivery, attempt, now)
        session.commit()
        attempted += 1
    return attempted


def _attempt(delivery: WebhookDelivery, now: datetime, secret: bytes, base_url: str, timeout: float,
             send: Callable, allow_internal: bool) -> dict:
    body = body_of(delivery, base_url)
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", "User-Agent": "FieldKit-Webhooks/1",
               "X-FieldKit-Event": delivery.event, "X-FieldKit-Delivery": str(delivery.id),
               "X-FieldKit-Timestamp": timestamp, "X-FieldKit-Signature": signature(secret, timestamp, body)}
    started = time.monotonic()
    attempt: dict = {"at": now.isoformat()}
    inside = None if allow_internal else internal_address(delivery.url)
    if inside:
        attempt.update(error=f"not sent: the host resolves to an internal address ({inside})", ms=0)
        return attempt
    try:
        attempt["status_code"] = send(delivery.url, body, headers, timeout)
    except requests.Timeout:
        attempt["error"] = f"no answer within {timeout:g} s"
    except requests.ConnectionError:
        attempt["error"] = "could not connect"
    except requests.RequestException as exc:
        attempt["error"] = type(exc).__name__
    attempt["ms"] = round((time.monotonic() - started) * 1000)
    return attempt


def _record(delivery: WebhookDelivery, attempt: dict, now: datetime) -> None:
    attempts = [*delivery.attempts, attempt]
    delivery.attempts = attempts
    if 200 <= attempt.get("status_code", 0) < 300:
        delivery.status = "sent"
    elif len(attempts) >= MAX_ATTEMPTS:
        delivery.status = "failed"
    else:
        delivery.next_attempt_at = now + BACKOFF[len(attempts) - 1]


def deliveries_for(session: Session, site_id: int, limit: int = 20) -> list[WebhookDelivery]:
    """The site's latest deliveries, newest first, for the PM's list."""
    return session.execute(select(WebhookDelivery).where(WebhookDelivery.site_id == site_id)
                           .order_by(WebhookDelivery.id.desc()).limit(limit)).scalars().all()


# --------------------------------------------------------------------------- the background worker

_wake = threading.Event()


@event.listens_for(Session, "after_commit")
def _wake_worker(session: Session) -> None:
    if session.info.pop("webhooks_enqueued", False):
        _wake.set()


@event.listens_for(Session, "after_rollback")
def _forget_enqueued(session: Session) -> None:
    session.info.pop("webhooks_enqueued", None)


class Worker:
    """A daemon thread that calls `run_once()` every `poll` seconds, or sooner when something was enqueued.

    One per process: `start()` is cheap to call on every request and starts a new thread after a fork
    (gunicorn workers), since threads do not survive one.
    """

    def __init__(self, run_once: Callable[[], int], poll: float = 5.0):
        self.run_once, self.poll = run_once, poll
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
                return
            self._stop.clear()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._loop, name="fieldkit-webhooks", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        _wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a broken round must not end the thread: the next one may succeed
                log.exception("Webhook delivery round failed")
            _wake.wait(self.poll)
            _wake.clear()


# --------------------------------------------------------------------------- status update for people


def _day(value: date) -> str:
    return day(value, weekday=True)


def status_update(*, name: str, client: str, move_in: date, today: date, readiness: dict,
                  signed_off_at: date | None = None, changed_after_signoff: bool = False,
                  signoff_url: str = "", handover_url: str = "") -> str:
    """A plain-language status update for decision-makers: where the project stands, what is at risk,
    and what is needed from the client. Pure: the same facts always give the same text."""
    status = readiness.get("status", "AT_RISK")
    score = readiness.get("score", 0)
    reasons = list(readiness.get("reasons") or [])
    blockers = list(readiness.get("blockers") or [])
    when = move_in_sentence(move_in, today, _day(move_in))
    standing = {
        "GO": "Ready to go live: every critical item is done and checked.",
        "AT_RISK": "At risk: the work is on track in places, but it is not yet certain the office will be "
                   "technically ready on the day.",
        "NO_GO": "Not ready to go live: as things stand, the office will not be technically ready on the day.",
    }.get(status, f"Status: {status}.")
    lines = [f"Status update: {name} ({client}), {_day(today)}", "", "Where the project stands",
             f"{standing} {when} Readiness score: {score} out of 100."]
    if signed_off_at:
        lines.append(f"The client signed off on {_day(signed_off_at)}."
                     + (" Changes were made after that sign-off." if changed_after_signoff else ""))

    lines += ["", "What is at risk"]
    risks = [r for r in reasons if not r.startswith("Every critical item is done")]
    lines += [f"- {r}" for r in risks[:5]] or ["- Nothing critical: every blocker is done."]
    if len(risks) > 5:
        lines.append(f"- and {len(risks) - 5} more points on the site page.")

    lines += ["", "What we need from you"]
    if changed_after_signoff:
        lines.append("- Please review the changes made since your sign-off and sign again"
                     + (f": {signoff_url}" if signoff_url else "."))
    elif signed_off_at:
        lines.append("- Nothing: the project is signed off."
                     + (f" The handover pack is here: {handover_url}" if handover_url else ""))
    elif status == "NO_GO":
        count = len(blockers)
        lines.append(f"- A decision: keep the move-in date of {_day(move_in)} and accept that "
                     f"{count} critical item{'' if count == 1 else 's'} may not be ready, or move the date.")
        lines.append("- Help with anything that waits on your landlord, building management or suppliers.")
    elif status == "AT_RISK":
        lines.append("- No decision yet. We will ask you to decide on the date if the critical items are not "
                     f"done by {_day(move_in - timedelta(days=3))}.")
        lines.append("- Keep the office accessible to our technicians and suppliers until move-in.")
    else:
        lines.append("- At move-in, review any open items and sign off the handover on a phone or tablet"
                     + (f": {signoff_url}" if signoff_url else "."))
    return "\n".join(lines)

"""Notifications: signed webhooks when a site's verdict changes or a blocker fails, sent off the request path.

How it works:
- `verdicts.refresh` calls `after_refresh` with the readiness stored before; when the verdict changed or a
  blocker newly failed, one WebhookDelivery per webhook URL (the site's and its client's) is added to the
  same transaction. Nothing is sent while a request is being answered.
- Deliveries are sent by `flask --app app worker` (any number of them, on PostgreSQL), or, when no worker is
  configured, by a thread in each app process (`Worker`, started by the first request and woken at once by a
  commit that enqueued something). Each due delivery is claimed in a short committed transaction before the
  request is made (`claim`: on PostgreSQL `FOR UPDATE SKIP LOCKED`, so workers never send the same attempt or
  wait for each other), and leased: a worker that dies mid-send leaves the row due again when the lease runs out.
- Each request is a JSON POST with a Slack/Teams-compatible `text` plus structured fields, signed:
  `X-FieldKit-Timestamp: <unix seconds>` and `X-FieldKit-Signature: sha256=<hex HMAC-SHA256 over
  "<timestamp>.<body>">`. The secret is FIELDKIT_WEBHOOK_SECRET, or when unset one derived from SECRET_KEY
  (`signing_secret`); receivers need the configured one, so set it in production.
- Webhooks go to public addresses only: a URL naming an internal host (loopback, private, link-local, ...)
  is refused when saved, and the host is resolved again before every send, so a name that later points
  inside the network is refused too (recorded as the attempt's error, with no request made).
  FIELDKIT_WEBHOOK_ALLOW_INTERNAL=1 lifts this for a relay on the provider's own network.
- A URL is read the way urllib3 (under requests) reads it, and one that parsers could read two ways is
  refused whatever the setting: backslashes, a user name before @, control or non-ASCII characters, empty
  labels, odd ports, IPv4 written other than as four decimal numbers (2130706433, 0x7f.1, 127.1).
- The host is resolved once per send; every address is checked, and the request connects to a checked
  address while the Host header, TLS SNI and the certificate check keep the name (`PinnedAdapter`), so a
  name that answers differently the second time (DNS rebinding) cannot redirect it. Redirects are not
  followed and environment proxies are not used (they would resolve the name again).
- A 2xx answer marks the delivery sent. Anything else (status, timeout, refused connection) is recorded as
  an attempt and retried after 30 s, 2 min, 10 min, 1 h and 6 h; after MAX_ATTEMPTS it is marked failed.
"""
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import Row, event, select, update
from sqlalchemy.orm import Session
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from .dates import day, move_in_sentence
from .errors import ValidationError
from .models import Site, WebhookDelivery
from .wording import verdict_label

log = logging.getLogger(__name__)

BACKOFF = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=1),
           timedelta(hours=6))
MAX_ATTEMPTS = len(BACKOFF) + 1
LEASE = timedelta(minutes=2)  # longer than any send can take: a claimed row is not due again before then
URL_LIMIT = 2000
BATCH = 20


PRINTABLE = re.compile(r"[!-~]+")  # ASCII without space: no control, format or look-alike characters
AUTHORITY = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::([0-9]{1,5}))?")
LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
NUMERIC = re.compile(r"[0-9]+|0x[0-9a-f]*")  # as a last label, resolvers and browsers read an IPv4 address
DEFAULT_PORTS = {"http": 80, "https": 443}
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


@dataclass(frozen=True)
class Target:
    """Where one webhook request goes: `host` for the Host header, SNI and the certificate; `addresses`
    (checked when resolved) to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == DEFAULT_PORTS[self.scheme] else f"{name}:{self.port}"


def authority(url: str, field: str = "webhook URL") -> tuple[str, str, int]:
    """Scheme, host (IPv6 without brackets) and port of an http(s) URL that every parser reads alike.

    A ValidationError (code bad_url) for anything urllib3 and the standard library could read two ways."""
    if not PRINTABLE.fullmatch(url) or "\\" in url:
        raise ValidationError(f"The {field} must be plain ASCII with no spaces, control characters or "
                              "backslashes (write an international name in its xn-- form).", "bad_url")
    try:
        split, parsed = urlsplit(url), parse_url(url)
    except (ValueError, LocationParseError):
        raise ValidationError(f"The {field} is not a valid URL.", "bad_url") from None
    scheme = split.scheme.lower()
    if scheme not in DEFAULT_PORTS or not split.netloc:
        raise ValidationError(f"The {field} must start with https:// (or http://) and name a host.", "bad_url")
    if "@" in split.netloc:
        raise ValidationError(f"The {field} must not carry a user name or password (the part before @); "
                              "put any secret in the path.", "bad_url")
    written = AUTHORITY.fullmatch(split.netloc.lower())
    port = int(written.group(2)) if written and written.group(2) else DEFAULT_PORTS[scheme]
    host = split.hostname or ""
    if (not written or not 0 < port < 65536 or (parsed.host or "").strip("[]").lower() != host
            or (parsed.port or DEFAULT_PORTS[scheme]) != port):
        raise ValidationError(f"The {field} names its host or port in an unusual way; write it as "
                              "https://host.example.com/path, with an optional :port from 1 to 65535.", "bad_url")
    labels = host.split(".")
    try:
        if ":" in host:
            ipaddress.IPv6Address(host)
        elif NUMERIC.fullmatch(labels[-1]):
            ipaddress.IPv4Address(host)
    except ValueError:
        raise ValidationError(f"The {field} has an IP address written in an unusual way; write IPv4 as four "
                              "numbers from 0 to 255 without leading zeros (like 203.0.113.7).", "bad_url") from None
    if ":" not in host and not NUMERIC.fullmatch(labels[-1]) and (
            len(host) > 253 or not all(LABEL.fullmatch(label) for label in labels)):
        raise ValidationError(f"The {field} has a host name that is not valid ({host}): each part between dots "
                              "must be 1 to 63 letters, digits or hyphens.", "bad_url")
    return scheme, host, port


def clean_url(value, field: str = "webhook URL", *, allow_internal: bool = False) -> str | None:
    """An http(s) URL to POST to, or None for an empty value; a ValidationError otherwise.

    A host written as an internal address (or `localhost`) is refused unless `allow_internal`; names are
    resolved only when sending (see `target`), so saving works without DNS."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"The {field} must be text.", "bad_url")
    url = value.strip()
    if not url:
        return None
    if len(url) > URL_LIMIT:
        raise ValidationError(f"The {field} must be one URL of at most {URL_LIMIT} characters.", "bad_url")
    _, host, _ = authority(url, field)
    if not allow_internal and (_local_name(host) or _internal(host)):
        raise ValidationError(f"The {field} points inside this network ({host}); webhooks go to public "
                              "addresses only.", "internal_url")
    return url


def _local_name(host: str) -> bool:
    return host == "localhost" or host.endswith(".localhost")


def _internal(address: str) -> bool:
    """True for an IP address that is not on the public internet, also when an IPv6 address carries an
    internal IPv4 one (mapped, compatible, NAT64, 6to4, Teredo); False for anything else (a name)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if ip.is_multicast or not ip.is_global:
        return True
    if isinstance(ip, ipaddress.IPv4Address):
        return False
    low = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ()), low if ip in NAT64 or ip in IPV4_COMPATIBLE else None]
    return any(v4 is not None and _internal(str(v4)) for v4 in embedded)


def target(url: str, *, allow_internal: bool = False) -> Target:
    """Resolve the URL's host once and check every address it has; a ValidationError says why not to send.

    The request must then connect to `Target.addresses` only (see `post`): resolving again could answer
    differently."""
    scheme, host, port = authority(url)
    if not allow_internal and _local_name(host):
        raise ValidationError(f"{host} is this machine", "internal_url")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise ValidationError(f"could not find the address of {host}", "unresolved") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    inside = None if allow_internal else next((a for a in addresses if _internal(a)), None)
    if inside:
        raise ValidationError(f"the host resolves to an internal address ({inside})", "internal_url")
    first_per_family = {":" in a: a for a in reversed(addresses)}  # one of each family, in the resolver's order
    return Target(url, scheme, host, port, tuple(sorted(first_per_family.values(), key=addresses.index)))


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
        head = (f"{name} is now {verdict_label(verdict.status, 'long').lower()}"
                f" (was {verdict_label(old_status or 'unknown', 'long').lower()}).")
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


def body_of(delivery: Row, base_url: str) -> bytes:
    payload = dict(delivery.payload)
    url = base_url.rstrip("/") + payload.pop("path", "/")
    payload.update(url=url, delivery_id=delivery.id, text=f"{payload.get('text', '')}\n{url}")
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")


class PinnedAdapter(HTTPAdapter):
    """Connects to one checked address while Host, TLS SNI and the certificate check keep the URL's name."""

    def __init__(self, target: Target, address: str):
        self.target, self.address = target, address
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = self.address
        if host_params["scheme"] == "https":
            pool_kwargs.update(server_hostname=self.target.host, assert_hostname=self.target.host)
        return host_params, pool_kwargs


def post(target: Target, body: bytes, headers: dict, timeout: float) -> int:
    """Send one request to a checked address and return the status code; reads nothing of the answer and
    follows no redirect. An address that cannot be reached hands over to the other family's one."""
    *others, last = target.addresses
    for address in others:
        try:
            return _post_to(target, address, body, headers, timeout)
        except requests.ConnectionError:
            continue  # e.g. no IPv6 route from this machine
    return _post_to(target, last, body, headers, timeout)


def _post_to(target: Target, address: str, body: bytes, headers: dict, timeout: float) -> int:
    with requests.Session() as http:
        http.trust_env = False  # a proxy from the environment would resolve the name again
        http.verify = os.environ.get("REQUESTS_CA_BUNDLE") or True
        http.mount(f"{target.scheme}://", PinnedAdapter(target, address))
        with http.post(target.url, data=body, headers={**headers, "Host": target.host_header}, timeout=timeout,
                       allow_redirects=False, stream=True) as response:
            return response.status_code


def claim(session: Session, now: datetime) -> Row | None:
    """Lease the next delivery due at `now` to this caller and commit; its id, url, event and payload, or None.

    The one commit in a domain module, on purpose: the lease must be visible to every other worker before the
    slow HTTP send, so that none sends the same attempt, and no lock may be held while a remote server is
    waited on. It commits what the session holds with it (the record of the attempt before). On PostgreSQL the
    row is picked with FOR UPDATE SKIP LOCKED, so workers claiming at once take different rows without waiting;
    SQLite has one writer at a time anyway. A worker that dies after claiming leaves the row pending: it is due
    again when the lease runs out.
    """
    due = (select(WebhookDelivery.id)
           .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
           .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(1)
           .with_for_update(skip_locked=True).scalar_subquery())
    claimed = session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == due)
        .values(next_attempt_at=now + LEASE)
        .returning(WebhookDelivery.id, WebhookDelivery.url, WebhookDelivery.event, WebhookDelivery.payload)
        .execution_options(synchronize_session=False)).first()
    session.commit()
    return claimed


def deliver_due(session: Session, now: datetime, *, secret: bytes, base_url: str, timeout: float = 5.0,
                send: Callable[[Target, bytes, dict, float], int] = post, limit: int = BATCH,
                allow_internal: bool = False, stop: threading.Event | None = None) -> int:
    """Claim, send and record, one at a time, up to `limit` deliveries due from `now` on; returns how many were
    attempted. Stops before the next claim once `stop` is set.

    Each claim commits the attempt recorded before it (see `claim`); the caller commits the last one.
    The clock moves on from `now` while the round runs, so a late claim still gets a whole lease.
    """
    started = time.monotonic()
    attempted = 0
    while attempted < limit and not (stop and stop.is_set()):
        at = now + timedelta(seconds=time.monotonic() - started)
        claimed = claim(session, at)
        if claimed is None:
            break
        attempt = _attempt(claimed, at, secret, base_url, timeout, send, allow_internal)
        _record(session.get(WebhookDelivery, claimed.id), attempt, at)
        attempted += 1
    return attempted


def _attempt(delivery: Row, now: datetime, secret: bytes, base_url: str, timeout: float,
             send: Callable, allow_internal: bool) -> dict:
    body = body_of(delivery, base_url)
    timestamp = str(int(now.timestamp()))
    headers = {"Content-Type": "application/json", "User-Agent": "FieldKit-Webhooks/1",
               "X-FieldKit-Event": delivery.event, "X-FieldKit-Delivery": str(delivery.id),
               "X-FieldKit-Timestamp": timestamp, "X-FieldKit-Signature": signature(secret, timestamp, body)}
    started = time.monotonic()
    attempt: dict = {"at": now.isoformat()}
    try:
        where = target(delivery.url, allow_internal=allow_internal)
    except ValidationError as exc:
        attempt.update(error=exc.message if exc.code == "unresolved" else f"not sent: {exc.message}", ms=0)
        return attempt
    try:
        attempt["status_code"] = send(where, body, headers, timeout)
    except requests.Timeout:
        attempt["error"] = f"no answer within {timeout:g} s"
    except requests.exceptions.SSLError:
        attempt["error"] = "the TLS certificate was not accepted"
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
    """A daemon thread that calls `run_once(stop)` again at once while it finds work, then every `poll` seconds,
    or sooner when something was enqueued in this process; `stop` is set when the thread is to end.

    One per process: `start()` is cheap to call on every request and starts a new thread after a fork
    (gunicorn workers), since threads do not survive one.
    """

    def __init__(self, run_once: Callable[[threading.Event], int], poll: float = 5.0):
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

    def stop(self, timeout: float | None = 10.0) -> None:
        """End the thread after the attempt in flight; `timeout=None` waits for that however long it takes."""
        self._stop.set()
        _wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if self.run_once(self._stop):
                    continue  # more may be due: a round takes at most BATCH
            except Exception:  # a broken round must not end the thread: the next one may succeed
                log.exception("Webhook delivery round failed")
            _wake.wait(self.poll)
            _wake.clear()


# --------------------------------------------------------------------------- status update for people


def status_update(*, name: str, client: str, move_in: date, today: date, readiness: dict,
                  signed_off_at: date | None = None, changed_after_signoff: bool = False,
                  signoff_url: str = "", handover_url: str = "") -> str:
    """A plain-language status update for decision-makers: where the project stands, what is at risk,
    and what is needed from the client. Pure: the same facts always give the same text."""
    status = readiness.get("status", "AT_RISK")
    score = readiness.get("score", 0)
    reasons = list(readiness.get("reasons") or [])
    blockers = list(readiness.get("blockers") or [])
    when = move_in_sentence(move_in, today, day(move_in, weekday=True))
    standing = {
        "GO": "Ready to go live: every critical item is done and checked.",
        "AT_RISK": "At risk: the work is on track in places, but it is not yet certain the office will be "
                   "technically ready on the day.",
        "NO_GO": "Not ready to go live: as things stand, the office will not be technically ready on the day.",
    }.get(status, f"Status: {status}.")
    lines = [f"Status update: {name} ({client}), {day(today, weekday=True)}", "", "Where the project stands",
             f"{standing} {when} Readiness score: {score} out of 100."]
    if signed_off_at:
        lines.append(f"The client signed off on {day(signed_off_at, weekday=True)}."
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
        lines.append(f"- A decision: keep the move-in date of {day(move_in, weekday=True)} and accept that "
                     f"{count} critical item{'' if count == 1 else 's'} may not be ready, or move the date.")
        lines.append("- Help with anything that waits on your landlord, building management or suppliers.")
    elif status == "AT_RISK":
        lines.append("- No decision yet. We will ask you to decide on the date if the critical items are not "
                     f"done by {day(move_in - timedelta(days=3), weekday=True)}.")
        lines.append("- Keep the office accessible to our technicians and suppliers until move-in.")
    else:
        lines.append("- At move-in, review any open items and sign off the handover on a phone or tablet"
                     + (f": {signoff_url}" if signoff_url else "."))
    return "\n".join(lines)

// What the screens show: the server's state from IndexedDB with this phone's waiting changes on top,
// and each item's readiness: the server's while the phone agrees with it, else the same rules run here.
import { INSTALLED, agreed, checkMeasurement, itemStates } from "./rules.js";
import * as store from "./store.js";
import { day, plural } from "./ui.js";

export const ASSET_KINDS = ["switch", "firewall", "router", "ap", "printer", "workstation", "laptop", "phone",
  "badge-reader", "ups", "server", "nas", "display", "camera", "other"];
export const ASSET_STATUSES = ["ordered", "received", "installed", "verified"];

function applySet(target, set) {
  for (const [name, value] of Object.entries(set || {})) {
    if (name === "measurements") {
      const merged = { ...(target.measurements || {}) };
      for (const [key, reading] of Object.entries(value || {})) {
        if (reading === null) delete merged[key];
        else merged[key] = reading;
      }
      target.measurements = merged;
    } else {
      target[name] = name === "note" && typeof value === "string" ? value.trim() : value;
    }
  }
}

function mark(target, record) {
  target.pending = (target.pending || 0) + 1;
  if (record.state === "attention") target.attention = record.error;
}

export function overlayItems(items, outbox) {
  const byId = new Map(items.map((item) => [item.id, { ...item, pending: 0, attention: null }]));
  for (const record of outbox) {
    const m = record.mutation;
    const item = m.type === "item.update" && byId.get(m.item_id);
    if (!item) continue;
    applySet(item, m.set);
    mark(item, record);
  }
  return [...byId.values()];
}

export function overlayAssets(assets, outbox, siteId = null) {
  const byId = new Map(assets.map((asset) => [asset.id, { ...asset, pending: 0, attention: null }]));
  for (const record of outbox) {
    const m = record.mutation;
    if (m.type !== "asset.upsert" || (siteId !== null && m.site_id !== siteId)) continue;
    let asset = byId.get(m.asset_id);
    if (!asset) {
      asset = { id: m.asset_id, site_id: m.site_id, tag: "", kind: "other", make: "", model: "", serial: "",
        mac: "", room: "", status: "ordered", item_id: null, rev: 0, pending: 0, attention: null, local: true };
      byId.set(m.asset_id, asset);
    }
    applySet(asset, m.set);
    mark(asset, record);
  }
  return [...byId.values()].sort((a, b) => (a.tag || "~").localeCompare(b.tag || "~"));
}

export async function loadSite(siteId) {
  const [site, items, assets, photos, outbox] = await Promise.all([
    store.get("sites", siteId), store.all("items", "site_id", siteId), store.all("assets", "site_id", siteId),
    store.all("photos", "site_id", siteId), store.all("outbox"),
  ]);
  if (!site) return null;
  const mine = outbox.filter((r) => r.site_id === siteId);
  items.sort((a, b) => a.position - b.position);
  return { site, items: overlayItems(items, mine), assets: overlayAssets(assets, mine, siteId), photos, outbox: mine };
}

export function unitText(rule, value) {
  return rule.unit ? `${value} ${rule.unit}` : `${value}`;
}

export function thresholdText(rule) {
  return rule.min !== undefined && rule.min !== null ? `at least ${unitText(rule, rule.min)}` : `at most ${unitText(rule, rule.max)}`;
}

// Why a reading does not meet its threshold, or "" when it does (or nothing was measured yet).
export function readingProblem(value, rule) {
  const found = checkMeasurement(value, rule);
  if (!found || found.kind === "missing" || found.kind === "limit") return "";
  if (found.kind === "invalid") return "not a number";
  return found.bound === "min" ? `below the ${unitText(rule, found.limit)} required` : `above the ${unitText(rule, found.limit)} allowed`;
}

export function photosFor(photos, key, id) {
  return photos.filter((p) => p[key] === id).sort((a, b) => (a.captured_at || "").localeCompare(b.captured_at || ""));
}

const isoDay = (date) => `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;

// Each item's readiness by id, as this phone knows the site: its photos (kept or sent) and installed assets.
export function siteStates(site, items, photos, assets) {
  const installed = assets.filter((a) => INSTALLED.includes(a.status));
  const counts = (item) => ({
    photos: photos.filter((p) => p.item_id === item.id).length,
    assets: item.asset_kind ? installed.filter((a) => a.kind === item.asset_kind && (!item.room || a.room === item.room)).length : 0,
  });
  const local = itemStates(items, counts, isoDay(new Date()), site.move_in);
  const server = (site.readiness && site.readiness.items) || {};
  return new Map([...local].map(([id, state]) => [id, agreed(state, server[id])]));
}

// A reason in words: the server's while the phone agrees with it, else the phone's own short ones.
export function reasonText(reason, item, byId) {
  if (reason.text) return reason.text;
  const label = (name) => (item.thresholds[name] && item.thresholds[name].label) || name;
  const title = (id) => { const dep = byId.get(id); return dep ? `${dep.title}${dep.room ? ` (${dep.room})` : ""}` : "another item"; };
  switch (reason.kind) {
    case "not_passed": return item.status === "na" ? "marked not applicable, but that is disputed" : "not checked yet";
    case "failed": return "marked as failed";
    case "out_of_range": return `${label(reason.name)} is out of threshold`;
    case "unmeasured": return `${label(reason.name)} is not measured yet`;
    case "photos_missing": return `${plural(reason.count, "more photo")} needed`;
    case "assets_missing": return `${plural(reason.count, "more device")} to install`;
    case "disputed": return "disputed: two technicians disagree";
    case "in_cycle": return "part of a dependency loop in the checklist";
    case "waiting_for": return `waiting for: ${reason.ids.map(title).join(", ")}`;
    case "overdue": return `overdue since ${day(item.due)}`;
    case "after_move_in": return `due ${day(item.due)}, after move-in`;
    default: return reason.kind;
  }
}

export const reasonOf = (state, kind) => state.reasons.find((r) => r.kind === kind);

export function progress(items, states) {
  const mine = items.map((i) => states.get(i.id)).filter(Boolean);
  return { done: mine.filter((s) => s.ready).length, total: mine.filter((s) => s.applicable).length,
    failed: mine.filter((s) => s.failed).length, disputed: items.filter((i) => i.disputed).length };
}

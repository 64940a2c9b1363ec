// What the screens show: the server's state from IndexedDB with this phone's waiting changes on top,
// and the checks a technician sees on the spot (thresholds, photos, dependencies).
import * as store from "./store.js";

export const ASSET_KINDS = ["switch", "firewall", "router", "ap", "printer", "workstation", "laptop", "phone",
  "badge-reader", "ups", "server", "nas", "display", "camera", "other"];
export const ASSET_STATUSES = ["ordered", "received", "installed", "verified"];
const DONE = new Set(["pass", "na"]);

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
  if (value === undefined || value === null || value === "") return "";
  const reading = Number(value);
  if (!Number.isFinite(reading)) return "not a number";
  if (rule.min !== undefined && rule.min !== null && reading < rule.min) return `below the ${unitText(rule, rule.min)} required`;
  if (rule.max !== undefined && rule.max !== null && reading > rule.max) return `above the ${unitText(rule, rule.max)} allowed`;
  return "";
}

export function photosFor(photos, key, id) {
  return photos.filter((p) => p[key] === id).sort((a, b) => (a.captured_at || "").localeCompare(b.captured_at || ""));
}

// What still stands between an item and "ready", as the phone knows it.
export function itemChecks(item, itemsById, photos) {
  const thresholds = Object.entries(item.thresholds || {});
  const outOfRange = thresholds.filter(([name, rule]) => readingProblem(item.measurements?.[name], rule));
  const unmeasured = thresholds.filter(([name]) => item.measurements?.[name] === undefined);
  const present = photosFor(photos, "item_id", item.id).length;
  const waitingFor = (item.depends_on || []).map((id) => itemsById.get(id)).filter((dep) => dep && !DONE.has(dep.status));
  return { outOfRange, unmeasured, present, photosMissing: Math.max(0, item.photos_required - present), waitingFor };
}

export function progress(items) {
  const applicable = items.filter((i) => i.status !== "na");
  return { done: applicable.filter((i) => i.status === "pass").length, total: applicable.length,
    failed: items.filter((i) => i.status === "fail").length, disputed: items.filter((i) => i.disputed).length };
}

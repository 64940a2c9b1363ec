// Sending the outbox and pulling what others changed (API.md POST /api/sync), uploading photos, and
// downloading site bundles. A mutation leaves the outbox only when the server acknowledged it; any
// HTTP error or no answer keeps everything and says why.
import * as store from "./store.js";

const HEADERS = { "X-FieldKit-Client": "field", Accept: "application/json" };
const BATCH = 100;
const EVERY = 60_000;
const SITES_EVERY = 10 * 60_000;
const KEEP = new Set(["applied", "duplicate", "conflict"]);

export const state = {
  running: false, online: navigator.onLine, error: null, waiting: 0, attention: 0, firstAttention: null,
  oldest: null, lastSynced: null,
};
const listeners = new Set();
let user = null;
let running = null;
let timer = null;
let soon = null;
let failures = 0;
let sitesFetchedAt = 0;
const channel = "BroadcastChannel" in self ? new BroadcastChannel("fieldkit") : null;

export const onChange = (listener) => listeners.add(listener);
function emit(dataChanged = false) {
  for (const listener of listeners) listener(state, dataChanged);
}
function changed() {
  emit(true);
  if (channel) channel.postMessage({ type: "changed", user: user && user.id });
}

class SyncError extends Error {
  constructor(reason, status = 0) { super(reason); this.reason = reason; this.status = status; }
}

function reasonFor(status, body) {
  const message = body && body.error && body.error.message;
  if (status === 401) return "you are signed out: sign in again to send your changes";
  if (status === 403) return `the server refused (403): ${message || "your role does not allow this"}`;
  if (status >= 500) return `the server had a problem (${status}); everything is kept and sent again`;
  return `${message || "the server refused the request"} (${status})`;
}

async function call(url, options = {}) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", ...options, headers: { ...HEADERS, ...(options.headers || {}) } });
  } catch {
    throw new SyncError("no answer from the server: everything stays on this phone and is sent again");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new SyncError(reasonFor(response.status, body), response.status);
  return body;
}

export async function counts() {
  const [outbox, photos, lastSynced] = await Promise.all([store.all("outbox"), store.all("photos"), store.meta("last_synced")]);
  const local = photos.filter((p) => p.blob);
  const waiting = [...outbox, ...local];
  const attention = waiting.filter((r) => r.state === "attention");
  Object.assign(state, {
    waiting: waiting.length, attention: attention.length, lastSynced,
    firstAttention: attention.length ? (attention[0].error && attention[0].error.message) || "refused by the server" : null,
    oldest: waiting.length ? Math.min(...waiting.map((r) => r.at)) : null,
  });
  return state;
}

export function start(signedIn) {
  user = signedIn;
  addEventListener("online", () => { state.online = true; emit(); flush(); });
  addEventListener("offline", () => { state.online = false; emit(); });
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") flush(); });
  if (channel) channel.onmessage = (event) => { if (event.data.user === user.id) counts().then(() => emit(true)); };
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "flush") flush().then((ok) => event.ports[0] && event.ports[0].postMessage({ ok }));
    });
  }
  return flush();
}

// Ask for a flush shortly (several taps in a row go in one request), and let Background Sync retry.
export function soonFlush() {
  clearTimeout(soon);
  soon = setTimeout(flush, 800);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.ready.then((reg) => reg.sync && reg.sync.register("fieldkit-outbox")).catch(() => {});
  }
}

export function flush() {
  if (!running) {
    const work = navigator.locks ? () => navigator.locks.request(`fieldkit-sync-${user.id}`, run) : run;
    running = work().finally(() => { running = null; });
  }
  return running;
}

async function run() {
  state.online = navigator.onLine;
  if (!state.online) {
    await counts();
    emit();
    schedule();
    return false;
  }
  state.running = true;
  emit();
  let ok = false;
  try {
    await refreshSites();
    await downloadMissing();
    await sendMutations();
    await downloadMissing(); // a site assigned since the last sync arrives as a "site" change
    await uploadPhotos();
    await store.setMeta("last_synced", Date.now());
    state.error = null;
    failures = 0;
    ok = true;
  } catch (error) {
    if (!(error instanceof SyncError)) console.error(error);
    state.error = error.reason || `could not sync: ${error.message}`;
    state.errorStatus = error.status || 0;
    failures += 1;
  } finally {
    state.running = false;
    await counts();
    changed();
    schedule();
  }
  return ok;
}

function schedule() {
  clearTimeout(timer);
  const delay = state.error ? Math.min(300_000, 5000 * 2 ** Math.min(failures - 1, 6)) : EVERY;
  timer = setTimeout(() => {
    if (document.visibilityState === "visible" || state.waiting) flush();
    else schedule();
  }, delay);
}

// The sites this person works on: assigned sites are kept whole on the phone (technicians); a PM's
// sites are listed, and a site's bundle is downloaded when they open it.
async function refreshSites(force = false) {
  if (!force && Date.now() - sitesFetchedAt < SITES_EVERY) return;
  const list = await call("/api/sites");
  sitesFetchedAt = Date.now();
  const listed = new Set(list.map((s) => s.id));
  await store.tx(["sites", "outbox"], "readwrite", async (s) => {
    const waitingFor = new Set((await store.req(s.outbox.getAll())).map((r) => r.site_id));
    for (const site of list) {
      const old = await store.req(s.sites.get(site.id));
      s.sites.put({ ...(old || {}), ...site, gone: false });
    }
    for (const old of await store.req(s.sites.getAll())) {
      if (listed.has(old.id)) continue;
      if (waitingFor.has(old.id)) s.sites.put({ ...old, gone: true }); // changes wait for it: never dropped
      else s.sites.delete(old.id);
    }
  });
}

async function downloadMissing() {
  if (user.role !== "tech") return;
  for (const site of await store.all("sites")) if (!site.bundled && !site.gone) await downloadBundle(site.id);
}

export async function downloadBundle(siteId) {
  const bundle = await call(`/api/sites/${siteId}/bundle`);
  await store.saveBundle(bundle);
  // The first bundle gives the cursor; later ones are newer, so an older cursor only pulls some rows twice.
  if ((await store.meta("cursor")) === null) await store.setMeta("cursor", bundle.cursor);
  return bundle;
}

export async function syncSitesNow() {
  await refreshSites(true);
  changed();
}

async function sendMutations() {
  const device_id = await store.deviceId();
  const sent = new Set();
  for (;;) {
    const outbox = await store.all("outbox");
    const batch = outbox.filter((r) => !sent.has(r.n)).slice(0, BATCH);
    const cursor = await store.meta("cursor", 0);
    const answer = await call("/api/sync", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ device_id, cursor, mutations: batch.map((r) => r.mutation) }),
    });
    batch.forEach((r) => sent.add(r.n));
    await applyAnswer(batch, answer);
    const unsent = outbox.length - batch.length > 0 || (await store.all("outbox")).some((r) => !sent.has(r.n));
    if (!answer.more && !unsent) return;
  }
}

function applyAnswer(batch, answer) {
  return store.tx(["outbox", "sites", "items", "assets", "photos", "meta"], "readwrite", async (s) => {
    answer.acks.forEach((ack, i) => {
      const record = batch[i];
      if (!record) return;
      if (KEEP.has(ack.status)) s.outbox.delete(record.n);
      else s.outbox.put({ ...record, state: "attention", error: ack.error || { code: ack.status, message: "refused by the server" } });
    });
    const bundled = new Set((await store.req(s.sites.getAll())).filter((x) => x.bundled).map((x) => x.id));
    for (const change of answer.changes) {
      if (change.type === "site") {
        const old = await store.req(s.sites.get(change.id));
        s.sites.put({ ...(old || {}), ...change.data });
      } else if (bundled.has(change.data.site_id) && s[`${change.type}s`]) {
        await store.putServerRow(s[`${change.type}s`], change.data);
      }
    }
    s.meta.put({ key: "cursor", value: answer.cursor });
  });
}

async function uploadPhotos() {
  const [photos, outbox] = await Promise.all([store.all("photos"), store.all("outbox")]);
  const assetsWaiting = new Set(outbox.filter((r) => r.mutation.type === "asset.upsert").map((r) => r.mutation.asset_id));
  for (const photo of photos.filter((p) => p.blob)) {
    if (photo.asset_id && assetsWaiting.has(photo.asset_id)) continue; // its asset must reach the server first
    const form = new FormData();
    form.append("file", photo.blob, `${photo.id}.jpg`);
    form.append("id", photo.id);
    form.append("site_id", photo.site_id);
    if (photo.item_id) form.append("item_id", photo.item_id);
    if (photo.asset_id) form.append("asset_id", photo.asset_id);
    if (photo.captured_at) form.append("captured_at", photo.captured_at);
    let response;
    try {
      response = await fetch("/api/photos", { method: "POST", body: form, headers: HEADERS, credentials: "same-origin" });
    } catch {
      throw new SyncError("no answer from the server while uploading a photo: it stays on this phone");
    }
    const body = await response.json().catch(() => null);
    const ok = response.status === 200 || response.status === 201;
    await store.tx("photos", "readwrite", async (s) => {
      const current = await store.req(s.photos.get(photo.id));
      if (!current) return;
      s.photos.put(ok
        ? { ...current, ...(body || {}), id: photo.id, blob: null, state: "uploaded", error: null,
          thumb_url: `/api/photos/${photo.id}/thumb` }
        : { ...current, state: "attention", error: { code: String(response.status), message: `photo not uploaded: ${reasonFor(response.status, body)}` } });
    });
    if (response.status === 401) throw new SyncError(reasonFor(401, body), 401);
  }
}

// The person decided a refused change is wrong: only then does it leave the phone.
export async function discard(n) {
  await store.tx("outbox", "readwrite", (s) => store.req(s.outbox.delete(n)));
  await counts();
  changed();
}

export async function discardPhoto(id) {
  await store.tx("photos", "readwrite", (s) => store.req(s.photos.delete(id)));
  await counts();
  changed();
}

export async function recorded() {
  await counts();
  changed();
  soonFlush();
}

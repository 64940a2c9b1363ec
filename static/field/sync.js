// Sending the outbox and pulling what others changed (API.md POST /api/sync), uploading photos, and
// downloading site bundles. Nothing leaves the phone and nothing is stored unless FieldKit itself answered
// as API.md says: an HTTP error, a Wi-Fi sign-in page, a proxy, a timeout or no answer keeps everything
// and says why in words.
import * as store from "./store.js";
import { plural } from "./ui.js";

const HEADERS = { "X-FieldKit-Client": "field", Accept: "application/json" };
const BATCH = 100;
const EVERY = 60_000;
const SITES_EVERY = 10 * 60_000;
const KEEP = new Set(["applied", "duplicate", "conflict"]);
const KEPT = "everything stays on this phone";
const WEB_PAGE = `the network answered with a web page instead of FieldKit (a Wi-Fi sign-in page?): ${KEPT}`;
const NOT_FIELDKIT = `the answer did not come from FieldKit (a proxy or a Wi-Fi sign-in page?): ${KEPT}`;

// How long to wait for an answer (a photo gets longer by its size) and between attempts; tests shorten them.
export const settings = { timeout: 30_000, photo_bytes_per_second: 50_000, retry_first: 5000, retry_most: 60_000 };

export const state = {
  running: false, online: navigator.onLine, error: null, waiting: 0, attention: 0, firstAttention: null,
  oldest: null, lastSynced: null, others: [],
};
const listeners = new Set();
let user = null;
let running = null;
let wanted = 0; // when something new (a change, the signal back) last asked for an attempt
let started = 0;
let timer = null;
let soon = null;
let failures = 0;
let timeoutsInRow = 0;
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

// `everything`: every other request would get the same answer now (signed out, a sign-in page), so stop trying.
class SyncError extends Error {
  constructor(reason, { status = 0, everything = false } = {}) {
    super(reason);
    Object.assign(this, { reason, status, everything });
  }
}

function reasonFor(status, body) {
  const message = body && body.error && body.error.message;
  if (status === 401) return "you are signed out: sign in again to send your changes";
  if (status === 403) return `the server refused (403): ${message || "your role does not allow this"}`;
  if (status >= 500) return `the server had a problem (${status}); everything is kept and sent again`;
  return `${message || "the server refused the request"} (${status})`;
}

const isObject = (value) => Boolean(value) && typeof value === "object" && !Array.isArray(value);

// One request with a deadline. `expect(body)` says whether a 2xx body is FieldKit's answer; anything else throws.
async function call(url, { expect, timeout = settings.timeout, ...options }) {
  const abort = new AbortController();
  const deadline = setTimeout(() => abort.abort(), timeout);
  let response;
  let body;
  try {
    // "manual": FieldKit's API never redirects, so a redirect is the network sending the phone elsewhere.
    response = await fetch(url, { credentials: "same-origin", redirect: "manual", ...options, signal: abort.signal,
      headers: { ...HEADERS, ...(options.headers || {}) } });
    if ((response.headers.get("Content-Type") || "").includes("json")) body = await response.json();
  } catch {
    if (!abort.signal.aborted) throw new SyncError(`no answer from the server: ${KEPT} and is sent again`);
    timeoutsInRow += 1; // a second hung request in a row: the link is dead for now, stop this attempt
    throw new SyncError(`the server did not answer within ${Math.round(timeout / 1000)} s: ${KEPT} and is sent again`,
      { everything: timeoutsInRow >= 2 });
  } finally {
    clearTimeout(deadline);
  }
  const { status } = response;
  if (response.type === "opaqueredirect" || status === 511 || (body === undefined && status < 500)) {
    throw new SyncError(WEB_PAGE, { everything: true });
  }
  if (!response.ok) throw new SyncError(reasonFor(status, body), { status, everything: status === 401 });
  if (!expect(body)) throw new SyncError(NOT_FIELDKIT, { everything: true });
  failures = 0; // FieldKit answered: the link works, so the next retry comes soon
  timeoutsInRow = 0;
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

// "2 changes by Tom Okafor wait on this phone until Tom signs in": someone else's work this phone still holds.
// As a clause (after "except"): "2 changes by Tom Okafor: they wait on this phone until Tom signs in".
export function othersText({ name, waiting }, clause = false) {
  const who = name ? `by ${name}` : "by someone who used this phone before";
  const until = name ? `until ${name.split(" ")[0]} signs in` : "until they sign in here again";
  const verb = clause ? (waiting === 1 ? ": it waits" : ": they wait") : (waiting === 1 ? " waits" : " wait");
  return `${plural(waiting, "change")} ${who}${verb} on this phone ${until}`;
}

export async function start(signedIn) {
  user = signedIn;
  addEventListener("online", () => {
    state.online = true;
    failures = 0;
    wanted = Date.now();
    emit();
    flush();
  });
  addEventListener("offline", () => { state.online = false; emit(); });
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") flush(); });
  if (channel) channel.onmessage = (event) => { if (event.data.user === user.id) counts().then(() => emit(true)); };
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "flush") flush().then((ok) => event.ports[0] && event.ports[0].postMessage({ ok }));
    });
  }
  state.others = await store.waitingForOthers(user.id);
  emit();
  return flush();
}

// Ask for a flush shortly (several taps in a row go in one request), and let Background Sync retry.
export function soonFlush() {
  wanted = Date.now();
  clearTimeout(soon);
  soon = setTimeout(flush, 800);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.ready.then((reg) => reg.sync && reg.sync.register("fieldkit-outbox")).catch(() => {});
  }
}

// One attempt at a time; when something new came after the running one started, another follows it.
export function flush() {
  if (!running) {
    const work = navigator.locks ? () => navigator.locks.request(`fieldkit-sync-${user.id}`, run) : run;
    running = work().finally(() => {
      running = null;
      if (wanted > started) flush();
    });
  }
  return running;
}

async function run() {
  started = Date.now();
  clearTimeout(timer);
  state.online = navigator.onLine;
  if (!state.online) {
    await counts();
    emit();
    schedule();
    return false;
  }
  state.running = true;
  emit();
  const attempt = { problems: [], tried: new Set() };
  timeoutsInRow = 0;
  try {
    // Each step on its own: a site list, a bundle, a change or a photo that fails does not hold back the rest.
    for (const step of [refreshSites, downloadMissing, sendMutations, downloadMissing, uploadPhotos]) {
      try {
        await step(attempt);
      } catch (error) {
        if (!(error instanceof SyncError)) throw error;
        attempt.problems.push(error);
        if (error.everything) break;
      }
    }
    if (!attempt.problems.length) await store.setMeta("last_synced", Date.now());
  } catch (error) {
    console.error(error);
    attempt.problems.push(new SyncError(error instanceof store.NotStored ? `what the server sent could not be stored: ${error.message}`
      : `could not sync: ${error.message}`));
  } finally {
    const [first] = attempt.problems;
    state.running = false;
    state.error = first ? first.reason : null;
    state.errorStatus = first ? first.status : 0;
    failures = first ? failures + 1 : 0;
    await counts();
    changed();
    schedule();
  }
  return !attempt.problems.length;
}

function schedule() {
  clearTimeout(timer);
  // Capped, and jittered so phones that lost the same link do not all come back at the same moment.
  const delay = state.error
    ? Math.min(settings.retry_most, settings.retry_first * 2 ** Math.min(failures - 1, 16)) * (0.5 + Math.random() / 2)
    : EVERY;
  timer = setTimeout(() => {
    if (document.visibilityState === "visible" || state.waiting) flush();
    else schedule();
  }, delay);
}

// The sites this person works on: assigned sites are kept whole on the phone (technicians); a PM's
// sites are listed, and a site's bundle is downloaded when they open it.
async function refreshSites() {
  if (Date.now() - sitesFetchedAt < SITES_EVERY) return;
  const list = await call("/api/sites", { expect: (l) => Array.isArray(l) && l.every((s) => isObject(s) && Number.isInteger(s.id)) });
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

// Each site's bundle on its own: one that fails is tried again next time, the others still arrive.
async function downloadMissing(attempt) {
  if (user.role !== "tech") return;
  for (const site of await store.all("sites")) {
    if (site.bundled || site.gone || attempt.tried.has(site.id)) continue;
    attempt.tried.add(site.id);
    try {
      await downloadBundle(site.id);
    } catch (error) {
      if (!(error instanceof SyncError) || error.everything) throw error;
      attempt.problems.push(error);
    }
  }
}

export async function downloadBundle(siteId) {
  const bundle = await call(`/api/sites/${siteId}/bundle`, {
    expect: (b) => isObject(b) && isObject(b.site) && b.site.id === siteId && Number.isInteger(b.cursor)
      && [b.items, b.assets, b.photos].every(Array.isArray),
  });
  await store.saveBundle(bundle);
  // The first bundle gives the cursor; later ones are newer, so an older cursor only pulls some rows twice.
  if ((await store.meta("cursor")) === null) await store.setMeta("cursor", bundle.cursor);
  return bundle;
}

// What a change is about: changes to one item, asset or pin keep their order, whatever else fails.
const OUTAGE_AFTER = 3; // changes failing alone in a row
const subject = (m) => `${m.type.split(".")[0]}:${m.item_id ?? m.asset_id ?? m.pin_id}`;

// A batch the server fails on (5xx) is sent again one change at a time, so one change it cannot take waits
// alone (and is sent again later) while the others go; later changes to its item or asset wait behind it.
async function sendMutations(attempt) {
  const device_id = await store.deviceId();
  const sent = new Set();
  const held = new Set();
  let more = true;
  const send = async (batch) => {
    batch.forEach((r) => sent.add(r.n));
    more = await sendBatch(device_id, batch);
  };
  const hold = (record, error) => {
    if (!(error instanceof SyncError) || !(error.status >= 500)) throw error;
    held.add(subject(record.mutation));
    attempt.problems.push(error);
  };
  for (;;) {
    const ready = (await store.all("outbox")).filter((r) => !sent.has(r.n) && !held.has(subject(r.mutation)));
    const batch = ready.slice(0, BATCH);
    if (!batch.length && !more) return;
    try {
      await send(batch);
    } catch (error) {
      if (batch.length === 1) hold(batch[0], error); // throws unless the server failed on it (5xx)
      else if (batch.length && error.status >= 500) {
        let failedInARow = 0;
        for (const record of batch) {
          if (held.has(subject(record.mutation))) continue;
          await send([record]).then(() => { failedInARow = 0; }, (alone) => { hold(record, alone); failedInARow += 1; });
          // The server fails on everything (an outage, not one bad change): stop, keep all, try again later.
          if (failedInARow === OUTAGE_AFTER) throw attempt.problems.at(-1);
        }
      } else throw error;
    }
  }
}

async function sendBatch(device_id, batch) {
  const cursor = await store.meta("cursor", 0);
  const ids = batch.map((r) => r.mutation.id);
  const answer = await call("/api/sync", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ device_id, cursor, mutations: batch.map((r) => r.mutation) }),
    expect: (a) => isObject(a) && Number.isInteger(a.cursor) && Array.isArray(a.changes ?? [])
      && Array.isArray(a.acks) && a.acks.length === ids.length
      && a.acks.every((ack, i) => isObject(ack) && ack.id === ids[i] && typeof ack.status === "string"),
  });
  await applyAnswer(batch, answer);
  return Boolean(answer.more);
}

function applyAnswer(batch, answer) {
  return store.tx(["outbox", "sites", "items", "assets", "photos", "meta"], "readwrite", async (s) => {
    answer.acks.forEach((ack, i) => {
      const record = batch[i];
      if (KEEP.has(ack.status)) s.outbox.delete(record.n);
      else s.outbox.put({ ...record, state: "attention", error: ack.error || { code: ack.status, message: "refused by the server" } });
    });
    const bundled = new Set((await store.req(s.sites.getAll())).filter((x) => x.bundled).map((x) => x.id));
    for (const change of answer.changes || []) {
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

// Each photo on its own: one that cannot go now keeps waiting with its reason, and the others still go.
async function uploadPhotos(attempt) {
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
    try {
      const body = await call("/api/photos", {
        method: "POST", body: form, timeout: settings.timeout + (1000 * photo.blob.size) / settings.photo_bytes_per_second,
        expect: (b) => isObject(b) && b.id === photo.id && typeof b.sha256 === "string",
      });
      await updatePhoto(photo.id, { ...body, id: photo.id, blob: null, state: "uploaded", error: null,
        thumb_url: `/api/photos/${photo.id}/thumb` });
    } catch (error) {
      if (!(error instanceof SyncError)) throw error;
      // Refused as it is (too big, not an image): only the technician can decide; anything else is tried again.
      const refused = error.status >= 400 && error.status < 500 && ![401, 408, 429].includes(error.status);
      await updatePhoto(photo.id, { state: refused ? "attention" : "waiting",
        error: { code: String(error.status), message: `photo not uploaded: ${error.reason}` } });
      const problem = new SyncError(`photo not uploaded: ${error.reason}`, error);
      if (error.everything) throw problem;
      attempt.problems.push(problem);
    }
  }
}

function updatePhoto(id, fields) {
  return store.tx("photos", "readwrite", async (s) => {
    const current = await store.req(s.photos.get(id));
    if (current) s.photos.put({ ...current, ...fields });
  });
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

// IndexedDB: one database per signed-in person, so a second person on the same phone never sees the
// first one's sites or changes. Stores: sites, items, assets, photos (blobs until uploaded),
// outbox (mutations in the order they were made) and meta (cursor, device id, last sync).
const SCHEMA = 1;
let db = null;
let name = null;

export const dbName = (userId) => `fieldkit-user-${userId}`;

const done = (request) => new Promise((resolve, reject) => {
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});

export async function open(userId) {
  if (db && name === dbName(userId)) return db;
  close();
  name = dbName(userId);
  const request = indexedDB.open(name, SCHEMA);
  request.onupgradeneeded = () => {
    const d = request.result;
    d.createObjectStore("sites", { keyPath: "id" });
    d.createObjectStore("items", { keyPath: "id" }).createIndex("site_id", "site_id");
    const assets = d.createObjectStore("assets", { keyPath: "id" });
    assets.createIndex("site_id", "site_id");
    assets.createIndex("tag", "tag");
    d.createObjectStore("photos", { keyPath: "id" }).createIndex("site_id", "site_id");
    d.createObjectStore("outbox", { keyPath: "n", autoIncrement: true }).createIndex("id", "mutation.id", { unique: true });
    d.createObjectStore("meta", { keyPath: "key" });
  };
  request.onblocked = () => console.warn("FieldKit: another tab holds an older database version open");
  db = await done(request);
  // Another tab upgrading the schema: let it, and reopen on next use.
  db.onversionchange = () => close();
  return db;
}

export function close() {
  if (db) db.close();
  db = null;
}

/** The phone could not write: its storage is full or failing. The message says so in words. */
export class NotStored extends Error {}

// The browser's own words ("Failed to write blobs (IOError)", "QuotaExceededError") mean nothing to a technician.
function plainly(error) {
  if (!error || !["QuotaExceededError", "UnknownError"].includes(error.name)) return error;
  return new NotStored("This was NOT saved: the phone's storage is full or failing. Free up space on the phone, then do it again.",
    { cause: error });
}

// Run `work(stores)` in one transaction; resolves with its result once the transaction has committed,
// so a caller that awaits it knows the change is on disk before the screen shows it.
export function tx(names, mode, work) {
  return new Promise((resolve, reject) => {
    const t = db.transaction(names, mode);
    let result;
    t.oncomplete = () => resolve(result);
    t.onerror = () => reject(plainly(t.error));
    t.onabort = () => reject(plainly(t.error) || new Error("The change could not be saved on this phone."));
    const stores = {};
    for (const n of [names].flat()) stores[n] = t.objectStore(n);
    let working;
    try {
      working = Promise.resolve(work(stores));
    } catch (error) {
      working = Promise.reject(error);
    }
    working.then((value) => { result = value; }, (error) => {
      try { t.abort(); } catch { /* already finished */ }
      reject(plainly(error));
    });
  });
}

export const req = done;
export const all = (store, index, key) => tx(store, "readonly", (s) =>
  done(index ? s[store].index(index).getAll(key) : s[store].getAll()));
export const get = (store, key) => tx(store, "readonly", (s) => done(s[store].get(key)));

export async function meta(key, fallback = null) {
  const row = await get("meta", key);
  return row ? row.value : fallback;
}

export const setMeta = (key, value) => tx("meta", "readwrite", (s) => done(s.meta.put({ key, value })));

export async function deviceId() {
  let id = await meta("device_id");
  if (!id) {
    id = `phone-${uuid()}`;
    await setMeta("device_id", id);
  }
  return id;
}

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16)); // plain-http LAN installs have no randomUUID
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// Record a change: the mutation goes to the outbox in one committed transaction before anyone shows it.
export function enqueue(mutation, siteId) {
  return tx("outbox", "readwrite", (s) => done(s.outbox.add({
    mutation, site_id: siteId, at: Date.now(), state: "waiting", error: null,
  })));
}

// Store a site's bundle (API.md GET /api/sites/{id}/bundle) as the server's state of that site.
export function saveBundle(bundle) {
  return tx(["sites", "items", "assets", "photos"], "readwrite", async (s) => {
    const site = bundle.site;
    const old = await done(s.sites.get(site.id));
    s.sites.put({ ...(old || {}), ...site, bundled: true, bundled_at: Date.now() });
    const keep = async (store, rows) => {
      const known = await done(s[store].index("site_id").getAllKeys(site.id));
      const fresh = new Set(rows.map((r) => r.id));
      for (const key of known) if (!fresh.has(key)) await deleteUnlessLocal(s[store], key);
      for (const row of rows) await putServerRow(s[store], row);
    };
    await keep("items", bundle.items);
    await keep("assets", bundle.assets);
    await keep("photos", bundle.photos);
  });
}

async function deleteUnlessLocal(store, key) {
  const row = await done(store.get(key));
  if (!row || !row.blob) store.delete(key); // a photo still on the phone only is never dropped
}

// A row as the server has it; a photo keeps what only the phone has (its thumbnail, upload state).
export async function putServerRow(store, row) {
  if (store.name === "photos") {
    const old = await done(store.get(row.id));
    return store.put({ ...(old || {}), ...row, state: "uploaded", blob: null });
  }
  return store.put(row);
}

// What other people who used this phone left waiting in their own databases: only their name (which they
// recorded as "owner") and how many changes and photos wait are read, never what the changes are.
export async function waitingForOthers(userId) {
  if (!indexedDB.databases) return [];
  const others = (await indexedDB.databases()).map((d) => d.name).filter((n) => n && n.startsWith("fieldkit-user-") && n !== dbName(userId));
  const found = [];
  for (const other of others) {
    const request = indexedDB.open(other);
    request.onupgradeneeded = () => request.transaction.abort(); // deleted meanwhile: do not create it again
    const theirs = await done(request).catch(() => null);
    if (!theirs) continue;
    try {
      const t = theirs.transaction(["outbox", "photos", "meta"]);
      const [changes, photos, owner] = await Promise.all([done(t.objectStore("outbox").count()),
        done(t.objectStore("photos").getAll()), done(t.objectStore("meta").get("owner"))]);
      const waiting = changes + photos.filter((p) => p.blob).length;
      if (waiting) found.push({ name: owner ? owner.value.name : "", waiting });
    } finally {
      theirs.close();
    }
  }
  return found;
}

export async function forget(userId) {
  close();
  await done(indexedDB.deleteDatabase(dbName(userId)));
}

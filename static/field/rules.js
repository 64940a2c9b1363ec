// The readiness rules a phone needs with no signal, and the labels the server uses, as data and one function.
// fieldkit/readiness.py is the source: tests/test_rules_js.py runs both on the same generated sites and
// checks that these tables equal fieldkit/wording.py's. The server's own state of each item (in the bundle's
// readiness) is shown while the phone agrees with it; after offline changes the phone's state comes from here.

export const VERDICT_LABELS = {
  GO: { short: "Go", long: "Ready to go live" },
  AT_RISK: { short: "At risk", long: "At risk" },
  NO_GO: { short: "No go", long: "Not ready to go live" },
};
export const STATUS_LABELS = { todo: "to do", pass: "pass", fail: "fail", na: "n/a" };
// Why an item is not ready, in the order its reasons are listed.
export const REASON_KINDS = ["not_passed", "failed", "out_of_range", "unmeasured", "photos_missing",
  "assets_missing", "disputed", "in_cycle", "waiting_for", "overdue", "after_move_in"];
export const INSTALLED = ["installed", "verified"]; // the asset statuses an item's asset count takes

// A finite number from a number or a numeric text; a true/false cable test reads as 1/0, a limit never does.
function toNumber(value, allowBool) {
  if (typeof value === "boolean") return allowBool ? Number(value) : null;
  const number = typeof value === "number" ? value : typeof value === "string" && value.trim() ? Number(value) : NaN;
  return Number.isFinite(number) ? number : null;
}

// null when a reading meets its threshold; otherwise "limit" (the checklist has no usable limit), "missing",
// "invalid" (not a number) or "out_of_range" (the only one that fails the item), with the bound it breaks.
export function checkMeasurement(value, threshold) {
  const spec = threshold && typeof threshold === "object" ? threshold : {};
  const limits = {};
  for (const bound of ["min", "max"]) {
    if (spec[bound] === undefined || spec[bound] === null) continue;
    const limit = toNumber(spec[bound], false);
    if (limit === null) return { kind: "limit" };
    limits[bound] = limit;
  }
  if (!Object.keys(limits).length) return { kind: "limit" };
  if (value === undefined || value === null || (typeof value === "string" && !value.trim())) return { kind: "missing" };
  const reading = toNumber(value, true);
  if (reading === null) return { kind: "invalid" };
  if ("min" in limits && reading < limits.min) return { kind: "out_of_range", bound: "min", limit: limits.min };
  if ("max" in limits && reading > limits.max) return { kind: "out_of_range", bound: "max", limit: limits.max };
  return null;
}

function own(item, photos, assets) {
  const applicable = item.status !== "na" || Boolean(item.disputed);
  const outOfRange = [];
  const unmeasured = [];
  for (const [name, threshold] of Object.entries(item.thresholds || {})) {
    const found = checkMeasurement((item.measurements || {})[name], threshold);
    if (found) (found.kind === "out_of_range" ? outOfRange : unmeasured).push(name);
  }
  const photosMissing = Math.max(0, (item.photos_required || 0) - photos);
  const assetsMissing = item.assets_required > 0 ? Math.max(0, item.assets_required - assets) : 0;
  const failed = applicable && (item.status === "fail" || outOfRange.length > 0);
  const ok = applicable && item.status === "pass" && !failed && !unmeasured.length && !photosMissing && !assetsMissing
    && !item.disputed;
  return { item, applicable, failed, ok, outOfRange, unmeasured, photosMissing, assetsMissing, ready: false };
}

function waitsForItself(start, deps) {
  const seen = new Set();
  const queue = [...deps.get(start)];
  while (queue.length) {
    const id = queue.shift();
    if (id === start) return true;
    if (!seen.has(id)) {
      seen.add(id);
      queue.push(...deps.get(id));
    }
  }
  return false;
}

// Each item's state by id: {applicable, ready, failed, open, reasons: [{kind, count?, ids?, name?}]}.
// `items` carry status, disputed, thresholds, measurements, photos_required, assets_required, depends_on and
// due; `counts(item)` gives {photos, assets} as the phone knows them; `today` and `moveIn` are "YYYY-MM-DD".
export function itemStates(items, counts, today, moveIn) {
  const evals = new Map(items.map((item) => {
    const { photos = 0, assets = 0 } = counts(item);
    return [item.id, own(item, photos, assets)];
  }));
  // Edges out of a not-applicable item are irrelevant: it is satisfied whatever it waits for.
  const deps = new Map([...evals].map(([id, ev]) => [id, ev.applicable
    ? [...new Set(ev.item.depends_on || [])].filter((d) => evals.has(d)) : []]));
  const waiting = new Map([...deps].map(([id, targets]) => [id, targets.length]));
  const dependents = new Map([...deps.keys()].map((id) => [id, []]));
  for (const [id, targets] of deps) for (const target of targets) dependents.get(target).push(id);
  const order = [...waiting].filter(([, n]) => n === 0).map(([id]) => id);
  for (let i = 0; i < order.length; i += 1) {
    for (const dependent of dependents.get(order[i])) {
      waiting.set(dependent, waiting.get(dependent) - 1);
      if (waiting.get(dependent) === 0) order.push(dependent);
    }
  }
  const left = [...deps.keys()].filter((id) => waiting.get(id));
  const looped = new Set(left.filter((id) => waitsForItself(id, deps)));
  const states = new Map();
  for (const id of [...order, ...left]) {
    const ev = evals.get(id);
    ev.waitingFor = deps.get(id).filter((d) => evals.get(d).applicable && !evals.get(d).ready);
    ev.ready = ev.ok && !looped.has(id) && !ev.waitingFor.length;
    const reasons = [];
    if (ev.applicable && !ev.ready) {
      const { item } = ev;
      if (item.status === "fail") reasons.push({ kind: "failed" });
      else if (item.status !== "pass") reasons.push({ kind: "not_passed" });
      for (const name of ev.outOfRange) reasons.push({ kind: "out_of_range", name });
      for (const name of ev.unmeasured) reasons.push({ kind: "unmeasured", name });
      if (ev.photosMissing) reasons.push({ kind: "photos_missing", count: ev.photosMissing });
      if (ev.assetsMissing) reasons.push({ kind: "assets_missing", count: ev.assetsMissing });
      if (item.disputed) reasons.push({ kind: "disputed" });
      if (looped.has(id)) reasons.push({ kind: "in_cycle" });
      if (ev.waitingFor.length) reasons.push({ kind: "waiting_for", ids: ev.waitingFor });
      if (item.due && item.due < today) reasons.push({ kind: "overdue" });
      else if (item.due && item.due > moveIn) reasons.push({ kind: "after_move_in" });
    }
    states.set(id, { applicable: ev.applicable, ready: ev.ready, failed: ev.failed, open: ev.applicable && !ev.ready,
      reasons });
  }
  return states;
}

// The server's state of an item while the phone's agrees with it (same verdict, same kinds of reason), so its
// words can be shown; otherwise the phone's, which has seen later changes.
export function agreed(local, server) {
  if (!server) return local;
  const same = ["applicable", "ready", "failed"].every((key) => local[key] === server[key])
    && local.reasons.map((r) => r.kind).join() === (server.reasons || []).map((r) => r.kind).join();
  return same ? { ...server, open: server.applicable && !server.ready, server: true } : local;
}

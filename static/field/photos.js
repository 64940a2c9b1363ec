// Photo evidence on the phone: downscaled before it is stored (mobile data is precious), kept as a Blob
// in IndexedDB until the server has it, with a small thumbnail that stays for the screens.
import * as store from "./store.js";
import { html } from "./ui.js";

const LONGEST = 2048;
const THUMB = 320;
let urls = [];

async function decode(file) {
  // "from-image" applies the EXIF orientation, so a portrait shot stays upright once re-encoded.
  if ("createImageBitmap" in self) {
    try { return await createImageBitmap(file, { imageOrientation: "from-image" }); } catch { /* fall through */ }
  }
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return img;
  } finally {
    URL.revokeObjectURL(url);
  }
}

function encode(image, longest, quality) {
  const scale = Math.min(1, longest / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(image, 0, 0, width, height);
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("could not encode the photo"))), "image/jpeg", quality));
}

// "The photo was NOT kept: ...": what a technician needs to hear when the phone could not store a photo.
function notKept(lost, taken) {
  const what = lost === taken ? (taken === 1 ? "The photo was" : `The ${taken} photos were`) : `${lost} of ${taken} photos were`;
  return `${what} NOT kept: the phone's storage is full or failing. Free up space on the phone, then take ${lost === 1 ? "the photo" : "them"} again.`;
}

// Store photos for an item or asset; resolves once they are on disk, and throws (after keeping the others)
// when the phone could not store one.
export async function capture(files, { site_id, item_id = null, asset_id = null }) {
  let lost = 0;
  for (const file of files) {
    let blob = file;
    let thumb = null;
    try {
      const image = await decode(file);
      blob = await encode(image, LONGEST, 0.85);
      thumb = await encode(image, THUMB, 0.7);
      if (image.close) image.close();
    } catch {
      // A format this browser cannot draw (HEIC on some phones): keep the original, the server converts it.
    }
    const record = { id: store.uuid(), site_id, item_id, asset_id, blob, thumb, state: "waiting", error: null,
      at: Date.now(), captured_at: new Date(file.lastModified || Date.now()).toISOString(), size: blob.size };
    try {
      await store.tx("photos", "readwrite", (s) => store.req(s.photos.put(record)));
    } catch (error) {
      if (!(error instanceof store.NotStored)) throw error;
      lost += 1;
    }
  }
  if (lost) throw new store.NotStored(notKept(lost, files.length));
}

export function releaseThumbnails() {
  urls.forEach((url) => URL.revokeObjectURL(url));
  urls = [];
}

const STATE = { waiting: "waiting to upload", attention: "needs attention", uploaded: "uploaded" };

export function thumbnails(photos) {
  if (!photos.length) return html`<p class="muted small">No photos yet.</p>`;
  return html`<ul class="thumbs">${photos.map((p) => {
    let src = p.thumb_url || `/api/photos/${p.id}/thumb`;
    if (p.thumb || p.blob) {
      src = URL.createObjectURL(p.thumb || p.blob);
      urls.push(src);
    }
    const state = p.blob ? p.state : "uploaded";
    return html`<li class="thumb thumb-${state}">
      <img src="${src}" alt="Photo ${p.captured_at ? p.captured_at.slice(0, 16).replace("T", " ") : ""}" loading="lazy">
      <span class="thumb-state">${STATE[state] || state}</span>
      ${p.blob && p.error ? (state === "attention" ? html`<span class="thumb-error">${p.error.message}</span>`
        : html`<a class="thumb-reason" href="/field/changes">tried, not sent yet: why</a>`) : ""}
    </li>`;
  })}</ul>`;
}

export const photoButton = (label = "Take photo") => html`<label class="button wide photo-button">
  <input type="file" accept="image/*" capture="environment" multiple data-change="photo" class="visually-hidden">
  <svg aria-hidden="true" width="22" height="22" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2"
    stroke-linejoin="round"><path d="M3 8h4l2-3h6l2 3h4v11H3z"/><circle cx="12" cy="13" r="3.5"/></svg>${label}</label>`;

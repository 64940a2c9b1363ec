// Sign-off page: exceptions accepted one by one, a typed name, a signature drawn with finger or mouse.
// Also the site page's copy buttons. No library: pointer events on a canvas.

const MAX_CANVAS_PIXELS_WIDE = 2400; // the server accepts up to 3000 px

/** A signature pad on `canvas`: strokes kept in CSS pixels so a resize or rotation redraws them. */
export function signaturePad(canvas, onChange = () => {}) {
  const ctx = canvas.getContext("2d");
  const strokes = [];
  let current = null;

  function resize() {
    const rect = canvas.getBoundingClientRect();
    if (!rect.width) return;
    const ratio = Math.min(window.devicePixelRatio || 1, MAX_CANVAS_PIXELS_WIDE / rect.width);
    canvas.width = Math.round(rect.width * ratio);
    canvas.height = Math.round(rect.height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    redraw();
  }

  function redraw() {
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#fff"; // a white background: the PNG reads the same everywhere, PDF included
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.restore();
    ctx.strokeStyle = "#14212b";
    ctx.fillStyle = "#14212b";
    ctx.lineWidth = 2.6;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const stroke of strokes) {
      if (stroke.length === 1) {
        ctx.beginPath();
        ctx.arc(stroke[0][0], stroke[0][1], 1.6, 0, Math.PI * 2);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      ctx.moveTo(...stroke[0]);
      for (const point of stroke.slice(1)) ctx.lineTo(...point);
      ctx.stroke();
    }
  }

  function point(event) {
    const rect = canvas.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  canvas.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 && event.pointerType === "mouse") return;
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    current = [point(event)];
    strokes.push(current);
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    event.preventDefault();
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
    for (const each of events.length ? events : [event]) current.push(point(each));
    redraw();
  });
  for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
    canvas.addEventListener(name, () => {
      if (!current) return;
      current = null;
      onChange();
    });
  }
  new ResizeObserver(resize).observe(canvas);
  resize();

  return {
    isEmpty: () => !strokes.some((stroke) => stroke.length > 1),
    clear() {
      strokes.length = 0;
      redraw();
      onChange();
    },
    toDataURL: () => canvas.toDataURL("image/png"),
  };
}

function setUpSignoff(form) {
  const error = document.getElementById("signoff-error");
  const button = document.getElementById("sign-button");
  const boxes = [...form.querySelectorAll("input[name=accept]")];
  const count = document.getElementById("accept-count");
  const name = form.querySelector("#signer-name");
  const pad = signaturePad(form.querySelector("#signature"), () => hideError());

  const showError = (message) => {
    error.textContent = message;
    error.hidden = false;
    error.scrollIntoView({ block: "center", behavior: "smooth" });
  };
  const hideError = () => { error.hidden = true; };
  const accepted = () => boxes.filter((box) => box.checked);

  for (const box of boxes) {
    box.addEventListener("change", () => {
      count.textContent = `${accepted().length} of ${boxes.length} accepted`;
      box.closest("li").classList.toggle("accepted", box.checked);
      hideError();
    });
  }
  document.getElementById("clear-signature").addEventListener("click", () => pad.clear());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const open = boxes.length - accepted().length;
    if (open) return showError(`Tick each open item to accept it: ${open} still to tick.`);
    if (!name.value.trim()) {
      name.focus();
      return showError("Type your name.");
    }
    if (pad.isEmpty()) return showError("Sign in the box with your finger or the mouse.");
    button.disabled = true;
    button.textContent = "Signing…";
    try {
      const response = await fetch(form.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          "X-CSRFToken": document.querySelector("meta[name=csrf-token]").content,
        },
        body: JSON.stringify({
          name: name.value,
          signature: pad.toDataURL(),
          accept: accepted().map((box) => Number(box.value)),
        }),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.status === 201) return showDone(answer);
      showError(answer.error?.message || `The sign-off was not stored (error ${response.status}). Try again.`);
    } catch {
      showError("No connection: nothing was stored. Your signature is still here; try again when online.");
    } finally {
      button.disabled = false;
      button.textContent = "Sign off";
    }
  });

  function showDone(answer) {
    document.getElementById("signoff-steps").hidden = true;
    const done = document.getElementById("signoff-done");
    document.getElementById("signoff-hash").textContent = answer.sha256;
    document.getElementById("signoff-verify").href = answer.record_url;
    done.hidden = false;
    window.scrollTo(0, 0);
    done.focus();
  }
}

function setUpCopyButtons() {
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      const status = document.querySelector(`[data-copied="${button.dataset.copy}"]`);
      try {
        await navigator.clipboard.writeText(field.value);
      } catch {
        field.select(); // without clipboard permission the text is selected for the person to copy
        document.execCommand?.("copy");
      }
      if (status) status.textContent = "Copied.";
    });
  }
}

const form = document.getElementById("signoff-form");
if (form) setUpSignoff(form);
setUpCopyButtons();

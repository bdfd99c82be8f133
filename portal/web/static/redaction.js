// Redaction form: drag on a still (the poster, or a preview) to fill the next box row's
// x, y, width and height in the original's pixels. Typing the numbers works without it.
(() => {
  "use strict";
  const form = document.getElementById("redaction-form");
  if (!form) return;
  const width = Number(form.dataset.width);
  const height = Number(form.dataset.height);

  // The first row that is unused, or a box whose numbers are still empty.
  function nextRow() {
    for (const kind of form.querySelectorAll("select[name=op_kind]")) {
      const n = kind.id.replace("op-kind-", "");
      const x = document.getElementById("op-x-" + n);
      if ((kind.value === "" || kind.value.startsWith("box_")) && x.value === "") return n;
    }
    return null;
  }

  function fill(a, b, shown) {
    const n = nextRow();
    if (n === null) return;
    const sx = width / shown.width;
    const sy = height / shown.height;
    const x = Math.round(Math.min(a[0], b[0]) * sx);
    const y = Math.round(Math.min(a[1], b[1]) * sy);
    const values = {
      x: x,
      y: y,
      w: Math.max(2, Math.min(width - x, Math.round(Math.abs(b[0] - a[0]) * sx))),
      h: Math.max(2, Math.min(height - y, Math.round(Math.abs(b[1] - a[1]) * sy))),
    };
    const kind = document.getElementById("op-kind-" + n);
    if (kind.value === "") kind.value = "box_blur";
    for (const [field, value] of Object.entries(values)) {
      document.getElementById("op-" + field + "-" + n).value = String(value);
    }
    document.getElementById("op-start-" + n).focus();
  }

  for (const img of document.querySelectorAll("img[data-draw]")) {
    const mark = document.createElement("div");
    mark.className = "drawn-box";
    mark.hidden = true;
    img.parentElement.appendChild(mark);
    let start = null;
    const at = (e) => {
      const r = img.getBoundingClientRect();
      return [
        Math.min(Math.max(e.clientX - r.left, 0), r.width),
        Math.min(Math.max(e.clientY - r.top, 0), r.height),
      ];
    };
    const show = (a, b) => {
      // CSSOM writes, which the CSP allows (no inline style attribute).
      mark.hidden = false;
      mark.style.left = img.offsetLeft + Math.min(a[0], b[0]) + "px";
      mark.style.top = img.offsetTop + Math.min(a[1], b[1]) + "px";
      mark.style.width = Math.abs(b[0] - a[0]) + "px";
      mark.style.height = Math.abs(b[1] - a[1]) + "px";
    };
    img.addEventListener("pointerdown", (e) => {
      e.preventDefault();
      start = at(e);
      img.setPointerCapture(e.pointerId);
    });
    img.addEventListener("pointermove", (e) => {
      if (start) show(start, at(e));
    });
    img.addEventListener("pointerup", (e) => {
      if (!start) return;
      const end = at(e);
      show(start, end);
      fill(start, end, img.getBoundingClientRect());
      start = null;
    });
  }
})();

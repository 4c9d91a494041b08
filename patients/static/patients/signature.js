// A signature pad on a canvas (no library, no CDN): pointer strokes; on submit the drawing
// goes into the hidden `signature` field as a PNG data URL (empty when nothing was drawn).
(function () {
  "use strict";
  document.querySelectorAll("[data-signature-form]").forEach((form) => {
    const canvas = form.querySelector("[data-signature-pad]");
    const field = form.querySelector('input[name="signature"]');
    const context = canvas.getContext("2d");
    let drawing = false;
    let drawn = false;
    context.lineWidth = 2;
    context.lineCap = "round";
    const point = (event) => {
      const box = canvas.getBoundingClientRect();
      return [
        ((event.clientX - box.left) * canvas.width) / box.width,
        ((event.clientY - box.top) * canvas.height) / box.height,
      ];
    };
    canvas.addEventListener("pointerdown", (event) => {
      drawing = true;
      canvas.setPointerCapture(event.pointerId);
      context.beginPath();
      context.moveTo(...point(event));
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!drawing) return;
      context.lineTo(...point(event));
      context.stroke();
      drawn = true;
    });
    ["pointerup", "pointercancel"].forEach((name) =>
      canvas.addEventListener(name, () => {
        drawing = false;
      }),
    );
    form.querySelector("[data-signature-clear]").addEventListener("click", () => {
      context.clearRect(0, 0, canvas.width, canvas.height);
      drawn = false;
    });
    form.addEventListener("submit", () => {
      field.value = drawn ? canvas.toDataURL("image/png") : "";
    });
  });
})();

// The example Generate page: the platform's own settings drive the widget through
// setSettings(), and the Generate button keeps the quote the widget announced.
"use strict";
(() => {
  const widget = document.getElementById("cost");
  const form = document.getElementById("platform-settings");
  const log = document.getElementById("submitted");
  let quote = null;
  const apply = () => {
    widget.setSettings({
      duration: Number(form.elements.duration.value),
      resolution: form.elements.resolution.value,
      generations: Number(form.elements.generations.value),
    });
  };
  form.addEventListener("input", apply);
  widget.addEventListener("gencredits-quote", (event) => {
    quote = event.detail;
    document.getElementById("generate").disabled = false;
  });
  widget.addEventListener("gencredits-error", () => {
    quote = null;
    document.getElementById("generate").disabled = true;
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!quote) return;
    log.textContent = "Would submit " + JSON.stringify(quote.request) + " priced on catalog " +
      quote.catalogVersion + " (" + quote.catalogHash.slice(0, 12) + "): " + quote.quote.total_credits + " credits.";
  });
  apply();
})();

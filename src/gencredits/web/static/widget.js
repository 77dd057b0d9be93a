/*! gencredits cost widget: <gencredits-cost model="veo-3.1" catalog="creative-suite"
 * key="gck_..." duration="8" resolution="1080p" generations="2"></gencredits-cost>
 *
 * Shows the total credits of the exact settings, live; the itemised breakdown on hover or
 * focus; fires "gencredits-quote" (detail: {quote, catalogVersion, catalogHash, request})
 * after every price, and "gencredits-error" (detail: the API's error) when the settings
 * are refused.  Settings come from attributes (each of the catalog's settings, by name)
 * or from el.setSettings({...}).  Use a publishable key: it can only price.
 */
"use strict";
(() => {
  const SCRIPT_ORIGIN = document.currentScript ? new URL(document.currentScript.src).origin : "";
  const PARAMS = ["duration", "resolution", "aspect_ratio", "start_frame", "end_frame", "audio",
    "preview", "prompt_enhancer", "input_images", "references", "mode", "route"];
  const BOOLS = new Set(["start_frame", "end_frame", "audio", "preview", "prompt_enhancer"]);
  const NUMBERS = new Set(["duration", "input_images", "references"]);
  const STYLE = `
    :host { display: inline-block; position: relative; font: inherit; }
    .total { font-variant-numeric: tabular-nums; font-weight: 700; outline: none; border-radius: 4px; padding: 0 .2em; }
    .total:focus-visible { outline: 3px solid #b35c00; outline-offset: 2px; }
    .tip { display: none; position: absolute; left: 0; top: 100%; z-index: 1000; min-width: 14em;
      background: #1a1a1a; color: #fff; padding: .4em .6em; border-radius: 6px; font-size: .85em; font-weight: 400; }
    :host(:hover) .tip, .total:focus + .tip { display: block; }
    .tip ul { margin: 0; padding: 0; list-style: none; }
    .tip li { display: flex; justify-content: space-between; gap: 1em; }
    .error { color: #a4161a; }`;

  class GencreditsCost extends HTMLElement {
    static get observedAttributes() {
      return ["model", "catalog", "key", "api", "generations", ...PARAMS];
    }

    constructor() {
      super();
      this._extra = {};
      this._seq = 0;
      this._timer = 0;
      this.quote = null;
      const root = this.attachShadow({ mode: "open" });
      if ("adoptedStyleSheets" in root) { // a constructed sheet: no inline <style> for a CSP to refuse
        const sheet = new CSSStyleSheet();
        sheet.replaceSync(STYLE);
        root.adoptedStyleSheets = [sheet];
      } else {
        root.innerHTML = `<style>${STYLE}</style>`;
      }
      root.innerHTML += `<span class="total" part="total" tabindex="0" role="status" aria-live="polite">…</span><div class="tip" part="breakdown" role="tooltip"></div>`;
      this._total = root.querySelector(".total");
      this._tip = root.querySelector(".tip");
      this._tip.id = "breakdown";
      this._total.setAttribute("aria-describedby", "breakdown");
    }

    connectedCallback() { this._schedule(); }
    attributeChangedCallback() { this._schedule(); }

    /** Set (or with null, clear) settings from a script; attributes stay as they are. */
    setSettings(settings) {
      for (const [name, value] of Object.entries(settings || {})) {
        if (value === null || value === undefined) delete this._extra[name];
        else this._extra[name] = value;
      }
      this._schedule();
    }

    /** The request this element prices: {model, catalog, params, generations}. */
    request() {
      const params = {};
      for (const name of PARAMS) {
        const text = this.getAttribute(name) ?? this.getAttribute(name.replace(/_/g, "-"));
        if (text === null) continue;
        params[name] = BOOLS.has(name) ? text !== "false" : NUMBERS.has(name) ? Number(text) : text;
      }
      const extra = { ...this._extra };
      let generations = Number(this.getAttribute("generations") || 1);
      if ("generations" in extra) { generations = Number(extra.generations); delete extra.generations; }
      Object.assign(params, extra);
      const request = { model: this.getAttribute("model"), params, generations };
      const catalog = this.getAttribute("catalog");
      if (catalog) request.catalog = catalog;
      return request;
    }

    _schedule() {
      clearTimeout(this._timer);
      this._timer = setTimeout(() => this._price(), 0); // one request for a burst of changes
    }

    async _price() {
      if (!this.isConnected || !this.getAttribute("model")) return;
      const mine = ++this._seq;
      const request = this.request();
      const base = this.getAttribute("api") || SCRIPT_ORIGIN;
      let answer;
      try {
        const response = await fetch(base + "/v1/quotes", {
          method: "POST",
          headers: { Authorization: "Bearer " + (this.getAttribute("key") || ""), "Content-Type": "application/json" },
          body: JSON.stringify(request),
        });
        answer = { ok: response.ok, data: await response.json() };
      } catch (error) {
        answer = { ok: false, data: { error: { code: "unavailable", message: "The price service cannot be reached.", details: {} } } };
      }
      if (mine !== this._seq) return;
      if (answer.ok) this._show(answer.data, request);
      else this._refuse(answer.data.error);
    }

    _show(quote, request) {
      this.quote = quote;
      this._total.classList.remove("error");
      this._total.textContent = Number(quote.total_credits).toLocaleString("en-US") + " credits";
      this._total.dataset.total = String(quote.total_credits);
      const list = document.createElement("ul");
      for (const line of quote.breakdown) {
        const item = document.createElement("li");
        const label = document.createElement("span");
        label.textContent = line.label;
        const credits = document.createElement("span");
        credits.textContent = line.credits;
        item.append(label, credits);
        list.append(item);
      }
      const version = document.createElement("div");
      version.textContent = quote.catalog + " " + quote.catalog_version;
      this._tip.replaceChildren(list, version);
      this.dispatchEvent(new CustomEvent("gencredits-quote", {
        bubbles: true, composed: true,
        detail: { quote, catalogVersion: quote.catalog_version, catalogHash: quote.catalog_hash, request },
      }));
    }

    _refuse(error) {
      this.quote = null;
      this._total.classList.add("error");
      this._total.textContent = "Not available";
      delete this._total.dataset.total;
      this._tip.textContent = error.message;
      this.dispatchEvent(new CustomEvent("gencredits-error", { bubbles: true, composed: true, detail: error }));
    }
  }

  if (!customElements.get("gencredits-cost")) customElements.define("gencredits-cost", GencreditsCost);
})();

// The estimator: builds the settings form from GET /v1/models/{id}, prices every change
// with one POST /v1/quotes (the quote fast path), then fills in the draft price, the
// cheapest other models (POST /v1/compare) and what a wallet buys.  No framework.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const meta = document.querySelector('meta[name="gencredits-key"]');
  let key = (meta && meta.content) || sessionStorage.getItem("gencredits-key") || "";
  const details = new Map(); // "catalog|model" -> model detail
  const BOOLS = ["start_frame", "end_frame", "audio", "preview", "prompt_enhancer"];
  const EXTRAS = ["audio", "preview", "prompt_enhancer"];
  const LABELS = {
    duration: "Duration (seconds)", resolution: "Resolution", aspect_ratio: "Aspect ratio",
    start_frame: "Start frame", end_frame: "End frame", audio: "Audio",
    preview: "Generate preview", prompt_enhancer: "Prompt enhancer",
    input_images: "Input images", references: "Reference images",
    generations: "Generations", route: "Route",
  };
  let pick = null; // {catalog, model, mode, detail}
  let seq = 0;
  let lastQuote = null;
  let wallet = null; // {id, available}
  const fmt = (n) => Number(n).toLocaleString("en-US");

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      headers: { Authorization: "Bearer " + key, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) throw Object.assign(new Error(data.error.message), { api: data.error });
    return data;
  }

  function needKey() {
    $("key-form").hidden = false;
    $("key-input").focus();
  }

  function control(name, node) {
    const wrap = document.createElement("div");
    wrap.className = node.type === "checkbox" ? "field check" : "field";
    node.id = "set-" + name;
    node.name = name;
    const label = document.createElement("label");
    label.htmlFor = node.id;
    label.textContent = LABELS[name] || name;
    if (node.type === "checkbox") wrap.append(node, label);
    else wrap.append(label, node);
    return wrap;
  }

  function select(name, values, chosen) {
    const node = document.createElement("select");
    for (const v of values) {
      const option = document.createElement("option");
      option.value = String(v);
      option.textContent = name === "duration" ? v + " s" : String(v);
      node.append(option);
    }
    if (chosen !== undefined) node.value = String(chosen);
    return control(name, node);
  }

  function number(name, min, max) {
    const node = document.createElement("input");
    node.type = "number";
    node.inputMode = "numeric";
    Object.assign(node, { min: String(min), max: String(max), step: "1", value: String(min) });
    return control(name, node);
  }

  function durations(spec) {
    if (spec.values) return spec.values.slice().sort((a, b) => a - b);
    const out = [];
    for (let s = spec.min; s <= spec.max && out.length < 200; s += spec.step || 1) out.push(s);
    return out;
  }

  function modeDetail() {
    return pick.detail.mode_details.find((m) => m.mode === pick.mode);
  }

  function buildForm() {
    const form = $("settings");
    form.replaceChildren();
    const mode = modeDetail();
    const a = mode.accepts;
    if (a.duration) form.append(select("duration", durations(a.duration), a.duration.default));
    if (a.resolution) form.append(select("resolution", a.resolution));
    if (a.aspect_ratio) form.append(select("aspect_ratio", a.aspect_ratio));
    for (const name of BOOLS) {
      if (!a[name]) continue;
      const box = document.createElement("input");
      box.type = "checkbox";
      form.append(control(name, box));
    }
    for (const name of ["input_images", "references"]) {
      if (a[name]) form.append(number(name, a[name].min || 0, a[name].max));
    }
    form.append(number("generations", 1, mode.generations_max || 1));
    if (pick.detail.routes.length > 1) {
      form.append(select("route", pick.detail.routes, pick.detail.default_route));
    }
    $("model-title").textContent = "· " + pick.detail.name + " (" + pick.mode + ")";
  }

  function settings() {
    const params = { mode: pick.mode };
    let generations = 1;
    for (const node of $("settings").elements) {
      if (!node.name) continue;
      if (node.name === "generations") generations = Number(node.value);
      else if (node.type === "checkbox") params[node.name] = node.checked;
      else if (node.type === "number" || node.name === "duration") params[node.name] = Number(node.value);
      else params[node.name] = node.value;
    }
    return { catalog: pick.catalog, model: pick.model, params, generations };
  }

  function draftOf(request) {
    const a = modeDetail().accepts;
    const params = { ...request.params };
    if (a.duration) params.duration = durations(a.duration)[0];
    if (a.resolution) params.resolution = a.resolution[0];
    for (const name of EXTRAS) if (name in params) params[name] = false;
    for (const name of ["input_images", "references"]) if (name in params) params[name] = a[name].min || 0;
    return { ...request, params, generations: 1 };
  }

  function showQuote(quote) {
    lastQuote = quote;
    const total = $("total");
    total.textContent = fmt(quote.total_credits);
    const list = $("breakdown");
    list.replaceChildren();
    for (const line of quote.breakdown) {
      const item = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = line.label;
      const credits = document.createElement("span");
      credits.className = "num";
      credits.textContent = line.credits;
      item.append(label, credits);
      list.append(item);
    }
    $("catalog-version").textContent =
      "Priced on " + quote.catalog + " " + quote.catalog_version + " (" + quote.catalog_hash.slice(0, 12) + ")";
    $("refusal").hidden = true;
    $("generate").disabled = false;
  }

  function showRefusal(error) {
    lastQuote = null;
    $("total").textContent = "–";
    $("breakdown").replaceChildren();
    const refusal = $("refusal");
    refusal.textContent = error.message;
    refusal.hidden = false;
    $("generate").disabled = true;
    $("draft").hidden = true;
    $("cheaper").hidden = true;
  }

  async function requote() {
    if (!pick) return;
    const mine = ++seq;
    const request = settings();
    $("total").dataset.asked = String(mine);
    $("request-json").textContent = JSON.stringify(request, null, 2);
    try {
      const quote = await api("POST", "/v1/quotes", request);
      if (mine !== seq) return;
      showQuote(quote);
    } catch (error) {
      if (mine !== seq) return;
      if (!error.api) throw error;
      if (error.api.code === "unauthorized") needKey();
      showRefusal(error.api);
    }
    const total = $("total");
    total.dataset.seq = String(mine);
    document.dispatchEvent(new CustomEvent("estimator:priced", { detail: { seq: mine, at: performance.now() } }));
    showWallet();
    if (lastQuote) extras(mine, request, lastQuote);
  }

  async function extras(mine, request, quote) {
    const draft = draftOf(request);
    const [draftQuote, comparison] = await Promise.all([
      api("POST", "/v1/quotes", draft).catch(() => null),
      api("POST", "/v1/compare", { catalog: request.catalog, params: withoutRoute(request.params), generations: request.generations }).catch(() => null),
    ]);
    if (mine !== seq) return;
    const box = $("draft");
    box.hidden = !draftQuote;
    if (draftQuote) {
      const saving = quote.total_credits - draftQuote.total_credits;
      $("draft-text").textContent = saving > 0
        ? "A draft (" + describe(draft) + ") costs " + fmt(draftQuote.total_credits) +
          " credits: " + fmt(saving) + " less than these settings. Check the direction first, then generate the final."
        : "These are already the cheapest draft settings for this model.";
    }
    const list = $("cheaper-list");
    list.replaceChildren();
    const others = comparison ? comparison.quotes.filter((q) => q.model !== request.model).slice(0, 3) : [];
    for (const other of others) {
      const item = document.createElement("li");
      item.textContent = other.model_name + ": " + fmt(other.total_credits) + " credits";
      list.append(item);
    }
    $("cheaper").hidden = others.length === 0;
  }

  function withoutRoute(params) {
    const copy = { ...params };
    delete copy.route;
    return copy;
  }

  function describe(request) {
    const p = request.params;
    const parts = [];
    if (p.resolution) parts.push(p.resolution);
    if (p.duration) parts.push(p.duration + " s");
    parts.push(request.generations + " generation" + (request.generations > 1 ? "s" : ""));
    return parts.join(", ");
  }

  function showWallet() {
    const out = $("wallet-result");
    if (!wallet || !lastQuote) { if (!wallet) out.textContent = ""; return; }
    const total = BigInt(lastQuote.total_credits);
    const available = BigInt(wallet.available);
    if (total === 0n) {
      out.textContent = "This request is free.";
    } else if (available >= total) {
      const count = available / total;
      out.textContent = "Wallet " + wallet.id + " has " + fmt(wallet.available) + " credits: enough for " + fmt(count) + " of these.";
    } else {
      out.textContent = "Not enough credits: wallet " + wallet.id + " has " + fmt(wallet.available) +
        ", this needs " + fmt(lastQuote.total_credits) + " (short by " + fmt(total - available) + ").";
    }
  }

  async function choose(radio) {
    const [catalog, model, mode] = radio.value.split("|");
    const id = catalog + "|" + model;
    if (!details.has(id)) {
      try {
        details.set(id, await api("GET", "/v1/models/" + encodeURI(model) + "?catalog=" + encodeURIComponent(catalog)));
      } catch (error) {
        if (error.api && error.api.code === "unauthorized") needKey();
        if (error.api) showRefusal(error.api);
        return;
      }
    }
    pick = { catalog, model, mode, detail: details.get(id) };
    buildForm();
    requote();
  }

  function start() {
    const catalogSelect = $("catalog");
    catalogSelect.addEventListener("change", () => {
      for (const block of document.querySelectorAll(".catalog-models")) {
        block.hidden = block.dataset.catalog !== catalogSelect.value;
      }
    });
    document.addEventListener("change", (event) => {
      if (event.target.name === "pick") choose(event.target);
    });
    const form = $("settings");
    form.addEventListener("input", requote);
    $("generate").addEventListener("click", () => { document.querySelector(".request").open = true; });
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      key = $("key-input").value.trim();
      sessionStorage.setItem("gencredits-key", key);
      $("key-form").hidden = true;
      details.clear();
      const chosen = document.querySelector('input[name="pick"]:checked');
      if (chosen) choose(chosen);
    });
    $("wallet-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const id = $("wallet-id").value.trim();
      const out = $("wallet-result");
      wallet = null;
      if (!id) { out.textContent = ""; return; }
      const response = await fetch("/staff/api/wallets/" + encodeURIComponent(id), { credentials: "same-origin" });
      if (response.status === 401) { out.textContent = "Sign in on the wallet pages (Wallets, above) to read a balance."; return; }
      const data = await response.json();
      if (!response.ok) { out.textContent = data.error.message; return; }
      wallet = data;
      showWallet();
      if (!lastQuote) out.textContent = "Wallet " + data.id + " has " + fmt(data.available) + " credits available.";
    });
    if (!key) needKey();
    const first = document.querySelector('.catalog-models:not([hidden]) input[name="pick"]');
    if (first) { first.checked = true; choose(first); }
  }

  start();
})();

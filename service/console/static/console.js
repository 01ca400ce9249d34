// Lector's console: plain JavaScript over Lector's own API, with the key from session storage.
"use strict";

const KEY = "lector-api-key";
const $ = (id) => document.getElementById(id);
let jobsTimer = null;
const schemas = new Map(); // document type code -> its fields' JSON Schema

function key() { return sessionStorage.getItem(KEY); }

// Every call sends the key as a bearer token; an error answer becomes an Error with its sentence.
async function api(path, options = {}) {
  const headers = { ...(options.headers || {}), Authorization: `Bearer ${key()}` };
  const answer = await fetch(path, { ...options, headers });
  if (!answer.ok) {
    let message = `The server answered ${answer.status}.`;
    try {
      const body = await answer.json();
      message = body.message || body.error || body.detail || message;
    } catch (_) { /* not JSON: keep the status */ }
    const error = new Error(message);
    error.status = answer.status;
    throw error;
  }
  return answer;
}

function element(tag, attributes = {}, ...children) {
  const made = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") made.textContent = value;
    else made.setAttribute(name, value);
  }
  for (const child of children) made.append(child);
  return made;
}

function downloadLink(label, blob, name) {
  const link = element("a", { href: URL.createObjectURL(blob), download: name, text: label });
  link.className = "download";
  return link;
}

// --- signing in -------------------------------------------------------------------------------

async function signIn(candidate) {
  sessionStorage.setItem(KEY, candidate);
  try {
    const account = await (await api("/api/account")).json();
    $("sign-in").hidden = true;
    $("app").hidden = false;
    $("sign-out").hidden = false;
    showAccount(account);
    await loadTypes(account.types);
  } catch (error) {
    sessionStorage.removeItem(KEY);
    $("sign-in-error").textContent = error.status === 401
      ? `That key was not accepted: ${error.message}`
      : `Signing in failed: ${error.message}`;
    $("key").focus();
  }
}

function showAccount(account) {
  const quota = account.quota_remaining < 0 ? "no quota" : `${account.quota_remaining} documents left`;
  $("account").textContent = `Signed in as ${account.name} (${quota}).`;
}

// The menu offers only what the key may use (its types, "*" for all), the first one chosen.
async function loadTypes(allowed) {
  const mayUse = (code) => allowed.includes("*") || allowed.includes(code);
  const options = mayUse("auto") ? [element("option", { value: "auto", text: "auto (identify it)" })] : [];
  schemas.clear();
  for (let number = 1; number <= 20; number += 1) { // at most 2,000 types: the menu stays a menu
    const page = await (await api(`/api/document-types?limit=100&page=${number}`)).json();
    for (const kind of page.data) {
      schemas.set(kind.codeType, kind.jsonSchema);
      if (mayUse(kind.codeType)) options.push(element("option", { value: kind.codeType, text: kind.name }));
    }
    if (number * page.pagination.limit >= page.pagination.total) break;
  }
  // A key's own order: the first type its operator named is the one chosen.
  if (!allowed.includes("*")) options.sort((one, other) => allowed.indexOf(one.value) - allowed.indexOf(other.value));
  if (!options.length) options.push(element("option", { value: "", text: "none: this key may use no document type" }));
  $("doctype").replaceChildren(...options);
  $("doctype").selectedIndex = 0;
}

// --- reading documents ------------------------------------------------------------------------

async function readAll(event) {
  event.preventDefault();
  const files = [...$("files").files];
  const target = $("target").value;
  const status = $("read-status");
  let failed = 0;
  $("results").replaceChildren();
  status.classList.remove("error");
  for (const [index, file] of files.entries()) {
    status.textContent = `Reading ${file.name} (${index + 1} of ${files.length})…`;
    try {
      if (target) await convertOne(file, target);
      else await readOne(file);
    } catch (error) {
      failed += 1;
      $("results").append(element("p", { class: "error", role: "alert", text: `${file.name}: ${error.message}` }));
    }
  }
  // "Done" only when every document was read; otherwise the count of those that were not.
  const documents = `${files.length} document${files.length === 1 ? "" : "s"}`;
  status.textContent = failed ? `${failed} of ${documents} could not be read (see below).` : `Done: ${documents}.`;
  status.classList.toggle("error", failed > 0);
}

function form(file, fields) {
  const body = new FormData();
  body.append("file", file);
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  return body;
}

async function readOne(file) {
  const fields = { document_type_code: $("doctype").value, engine: $("engine").value, include_words: "true" };
  const started = performance.now();
  const answer = await (await api("/api/ocr/extract-text-from-file", { method: "POST", body: form(file, fields) })).json();
  showResult(file, answer.data, (performance.now() - started) / 1000);
}

async function convertOne(file, target) {
  const fields = { target_format: target, engine: $("engine").value };
  if (!["auto", ""].includes($("doctype").value)) fields.document_type_code = $("doctype").value;
  const body = new FormData();
  body.append("image", file);
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  const answer = await api("/api/convert-file", { method: "POST", body });
  const name = /filename="([^"]+)"/.exec(answer.headers.get("Content-Disposition") || "")?.[1] || `${file.name}.${target}`;
  const card = element("article", { class: "result" }, element("h3", { text: file.name }));
  card.append(element("div", { class: "downloads" }, downloadLink(`Download ${name}`, await answer.blob(), name)));
  $("results").append(card);
}

// One rule for every colour of confidence (0 to 1): red below 0.5, amber below 0.8, green from 0.8.
function confidenceLevel(confidence) {
  if (confidence >= 0.8) return "good";
  if (confidence >= 0.5) return "fair";
  return "bad";
}

// An amount in its currency's decimals (JPY none, EUR two, KWD three); two without a known currency.
function money(value, currency) {
  if (currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(value);
    } catch (_) { /* not an ISO 4217 code: plain decimals below */ }
  }
  return new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(value);
}

// A field is an amount when its type has a currency and its schema says number (not integer).
function isMoney(name, value, fields, schema) {
  if (typeof value !== "number" || !("currency" in fields)) return false;
  const type = schema?.properties?.[name]?.type;
  return type === undefined || [].concat(type).includes("number");
}

function showResult(file, data, seconds) {
  const raw = data.raw_response;
  const card = element("article", { class: "result" }, element("h3", { text: file.name }));
  const type = data.document_type_confidence == null
    ? data.document_type : `${data.document_type} (identified, ${Math.round(data.document_type_confidence * 100)} %)`;
  card.append(element("p", { class: "muted",
    text: `${type} · ${raw.engine} · ${raw.page_count} page(s) · ${raw.tokens_used} tokens · ` +
          `${data.processing_time.toFixed(2)} s on the server, ${seconds.toFixed(2)} s in all` }));
  const layers = new Map(); // page number -> the SVG drawn over its picture
  if (data.fields) {
    card.append(fieldsTable(data.fields, data.field_confidence || {}, schemas.get(data.document_type),
                            data.field_evidence || {}, layers));
  }
  for (const page of raw.pages) card.append(pageView(file, page, raw.pages.length, layers));
  const base = file.name.replace(/\.[^.]+$/, "");
  card.append(element("div", { class: "downloads" },
    downloadLink("Download the text", new Blob([data.text], { type: "text/plain" }), `${base}.txt`),
    downloadLink("Download the JSON", new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }), `${base}.json`)));
  $("results").append(card);
}

// A field's row can be chosen (its name is a button): that draws the field's evidence box on
// its page's picture (see chooseField).
function fieldsTable(fields, confidence, schema, evidence, layers) {
  const table = element("table", {}, element("caption", { text: "Fields" }));
  table.append(element("tr", {}, element("th", { text: "Field" }), element("th", { text: "Value" }),
                       element("th", { text: "Confidence" })));
  for (const [name, value] of Object.entries(fields)) {
    const shown = value === null ? "—"
      : isMoney(name, value, fields, schema) ? money(value, fields.currency)
      : typeof value === "object" ? JSON.stringify(value) : String(value);
    const sure = confidence[name] ?? 0;
    const percent = Math.round(sure * 100);
    const fill = element("span", { class: "fill" });
    fill.style.width = `${percent}%`;
    const bar = element("span", { class: `confidence ${confidenceLevel(sure)}`, role: "meter", "aria-valuemin": "0",
      "aria-valuemax": "1", "aria-valuenow": String(sure), "aria-label": `${name} confidence` }, fill);
    const proof = evidence[name];
    const choose = element("button", { type: "button", class: "field-name", "aria-pressed": "false", text: name,
      title: proof?.box ? `Show where ${name} stands on page ${proof.page}` : `No box on the page for ${name}` });
    const row = element("tr", { "data-field": name }, element("td", {}, choose), element("td", { text: shown }),
                        element("td", {}, bar, ` ${percent} %`));
    row.addEventListener("click", () => chooseField(table, row, proof, layers));
    table.append(row);
  }
  return table;
}

// One field's box at a time: choosing a row moves it there. The box is in page pixels, like the
// words', so it goes in the same SVG (whose viewBox is the page): it scales with the picture.
// A field without a box, or on a page shown without its picture, draws nothing.
function chooseField(table, row, proof, layers) {
  for (const layer of layers.values()) layer.querySelector("rect.field")?.remove();
  for (const button of table.querySelectorAll("button[aria-pressed=true]")) button.setAttribute("aria-pressed", "false");
  row.querySelector("button").setAttribute("aria-pressed", "true");
  const layer = proof?.box && layers.get(proof.page);
  if (layer) layer.append(boxRect(proof.box, "box field"));
}

function boxRect([left, top, right, bottom], classes) {
  return svgElement("rect", { x: left, y: top, width: right - left, height: bottom - top, class: classes });
}

// A page: its picture (for an image file) with each word's box drawn over it, and its words
// beside; choosing a word lights its box. The SVG over the picture goes in layers by page number.
function pageView(file, page, pages, layers) {
  const panes = element("div", { class: "panes" });
  const boxes = [];
  if (file.type.startsWith("image/") && pages === 1) {
    const figure = element("div", { class: "page" });
    figure.append(element("img", { src: URL.createObjectURL(file), alt: `Page ${page.page} of ${file.name}` }));
    const svg = svgElement("svg", { viewBox: `0 0 ${page.width} ${page.height}`, preserveAspectRatio: "none",
      "aria-hidden": "true" });
    for (const word of page.words) {
      const rect = boxRect(word.box, `box ${confidenceLevel(word.confidence / 100)}`);
      svg.append(rect);
      boxes.push(rect);
    }
    layers.set(page.page, svg);
    figure.append(svg);
    panes.append(figure);
  }
  const words = element("div", { class: "words" }, element("h4", { text: `Page ${page.page}` }));
  // The page's text as it reads, line breaks and blank lines kept (pre-wrap): between two words
  // goes the whitespace the text has there; a word the text left out (too unsure) gets a space.
  const line = element("p", { class: "text" });
  const space = /\s*/y;
  let cursor = 0;
  page.words.forEach((word, index) => {
    space.lastIndex = cursor;
    space.exec(page.text);
    let gap = " ";
    if (page.text.startsWith(word.text, space.lastIndex)) {
      gap = page.text.slice(cursor, space.lastIndex);
      cursor = space.lastIndex + word.text.length;
    }
    if (index > 0) line.append(gap);
    const button = element("button", { type: "button", class: "word", text: word.text,
      title: `confidence ${word.confidence}` });
    button.addEventListener("click", () => {
      for (const lit of panes.querySelectorAll(".lit")) lit.classList.remove("lit");
      button.classList.add("lit");
      if (boxes[index]) boxes[index].classList.add("lit");
    });
    line.append(button);
  });
  if (!page.words.length) line.textContent = page.text || "(no text)";
  words.append(line);
  if (!boxes.length && page.words.length) {
    words.append(element("p", { class: "muted", text: "The page's picture is shown for single image files." }));
  }
  panes.append(words);
  return panes;
}

// --- jobs, usage, pairs -----------------------------------------------------------------------

async function refreshJobs() {
  try {
    const page = await (await api("/api/jobs?limit=50")).json();
    const table = element("table", {}, element("caption", { text: "Your jobs, newest first" }));
    table.append(element("tr", {}, ...["Job", "Kind", "Batch", "Status", "Progress", "Result"].map(
      (text) => element("th", { text }))));
    for (const job of page.jobs) {
      const result = element("td");
      if (job.status === "SUCCESS") {
        const button = element("button", { type: "button", class: "plain", text: "Download" });
        button.addEventListener("click", () => downloadJob(job, result));
        result.append(button);
      } else if (job.error) result.textContent = job.error;
      const progress = element("progress", { max: "1", value: String(job.progress), "aria-label": `${job.job_id} progress` });
      table.append(element("tr", {}, element("td", { text: job.filename || job.job_id.slice(0, 8) }),
        element("td", { text: job.kind + (job.target_format ? ` → ${job.target_format}` : "") }),
        element("td", { text: job.batch_id ? job.batch_id.slice(0, 8) : "" }),
        element("td", { text: job.status }), element("td", {}, progress), result));
    }
    const batches = [...new Set(page.jobs.map((job) => job.batch_id).filter(Boolean))];
    const batchList = element("ul", { "aria-label": "Batches" });
    for (const batch of batches) {
      const cell = element("li", { text: `Batch ${batch.slice(0, 8)}: ` });
      const button = element("button", { type: "button", class: "plain", text: "Results as CSV" });
      button.addEventListener("click", async () => {
        try {
          const answer = await api(`/api/batches/${batch}/results?format=csv`);
          button.replaceWith(downloadLink("Save the CSV", await answer.blob(), `batch-${batch}.csv`));
        } catch (error) { cell.append(` ${error.message}`); }
      });
      cell.append(button);
      batchList.append(cell);
    }
    $("jobs-list").replaceChildren(...(page.jobs.length ? [table, batchList] : [element("p", { text: "No jobs yet." })]));
  } catch (error) {
    $("jobs-list").replaceChildren(element("p", { class: "error", text: error.message }));
  }
}

async function downloadJob(job, cell) {
  try {
    if (job.kind === "file") {
      const answer = await api(`/api/convert-async/${job.job_id}/download`);
      cell.replaceChildren(downloadLink("Save the file", await answer.blob(), job.filename || job.job_id));
    } else {
      const status = await (await api(job.status_url)).json();
      const blob = new Blob([JSON.stringify(status, null, 2)], { type: "application/json" });
      cell.replaceChildren(downloadLink("Save the result", blob, `${job.job_id}.json`));
    }
  } catch (error) { cell.textContent = error.message; }
}

async function showUsage() {
  const account = await (await api("/api/account")).json();
  const limit = (value, unit) => (value < 0 ? "no limit" : `${value} ${unit}`);
  $("limits").replaceChildren(element("table", {},
    element("tr", {}, element("th", { text: "Requests per minute" }), element("td", { text: limit(account.per_minute, "") })),
    element("tr", {}, element("th", { text: "Requests per day" }), element("td", { text: limit(account.per_day, "") })),
    element("tr", {}, element("th", { text: "Quota left" }), element("td", { text: limit(account.quota_remaining, "documents") })),
    element("tr", {}, element("th", { text: "Documents in all" }), element("td", { text: String(account.totals.documents) }))));
  const report = await (await api("/api/usage")).json();
  $("usage-chart").replaceChildren(usageChart(report.days));
}

function svgElement(tag, attributes, text) {
  const made = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, String(value));
  if (text !== undefined) made.textContent = text;
  return made;
}

// Documents per day as bars over a date axis, a count axis at the left (0, half, the most),
// and each day's count above its bar.
function usageChart(days) {
  const most = Math.max(1, ...days.map((day) => day.documents));
  const left = 40, top = 18, plot = 120, step = 20, right = 8;
  const width = left + days.length * step + right, height = top + plot + 34;
  const y = (value) => top + plot - (value / most) * plot;
  const svg = svgElement("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img",
    "aria-label": `Documents per day: ${days.map((day) => `${day.date} ${day.documents}`).join(", ")}` });
  for (const tick of [...new Set([0, Math.round(most / 2), most])]) {
    svg.append(svgElement("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: tick ? "grid" : "axis" }));
    svg.append(svgElement("text", { x: left - 6, y: y(tick) + 4, "text-anchor": "end", class: "tick" }, String(tick)));
  }
  svg.append(svgElement("line", { x1: left, x2: left, y1: top, y2: top + plot, class: "axis" }));
  days.forEach((day, index) => {
    const middle = left + index * step + step / 2;
    const bar = svgElement("rect", { x: left + index * step + 3, y: y(day.documents), width: step - 6,
      height: top + plot - y(day.documents), class: "day" });
    bar.append(svgElement("title", {}, `${day.date}: ${day.documents}`));
    svg.append(bar);
    if (day.documents) {
      svg.append(svgElement("text", { x: middle, y: y(day.documents) - 4, "text-anchor": "middle", class: "value" },
        String(day.documents)));
    }
    if (index % 5 === 0 || index === days.length - 1) {
      svg.append(svgElement("line", { x1: middle, x2: middle, y1: top + plot, y2: top + plot + 4, class: "axis" }));
      svg.append(svgElement("text", { x: middle, y: top + plot + 18, "text-anchor": "middle", class: "date" },
        day.date.slice(5)));
    }
  });
  return svg;
}

async function showPairs() {
  const report = await (await api("/convertr/api/stats/pairs?days=14")).json();
  const table = element("table", {}, element("caption", {
    text: `${report.totals.requests} conversions, most used: ${report.totals.most_used_pair || "none"}` }));
  table.append(element("tr", {}, ...["Pair", "Requests", "Success", "Errors", "Average runtime", "Window"].map(
    (text) => element("th", { text }))));
  for (const pair of report.pairs) {
    table.append(element("tr", {}, element("td", { text: pair.pair }), element("td", { text: String(pair.requests) }),
      element("td", { text: `${(pair.success_rate * 100).toFixed(1)} %` }),
      element("td", { text: `${(pair.error_rate * 100).toFixed(1)} %` }),
      element("td", { text: `${(pair.average_runtime_ms / 1000).toFixed(2)} s` }),
      element("td", { text: `${pair.window_days} d` })));
  }
  $("pairs-table").replaceChildren(report.pairs.length ? table : element("p", { text: "No conversions yet." }));
}

function showTab(name) {
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const chosen = tab.getAttribute("aria-controls") === name;
    tab.setAttribute("aria-selected", String(chosen));
    $(tab.getAttribute("aria-controls")).hidden = !chosen;
  }
  clearInterval(jobsTimer);
  const failed = (target) => (error) => $(target).replaceChildren(element("p", { class: "error", text: error.message }));
  if (name === "jobs") { refreshJobs(); jobsTimer = setInterval(refreshJobs, 2000); }
  if (name === "usage") showUsage().catch(failed("usage-chart"));
  if (name === "pairs") showPairs().catch(failed("pairs-table"));
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    $("sign-in-error").textContent = "";
    signIn($("key").value.trim());
  });
  $("sign-out").addEventListener("click", () => { sessionStorage.removeItem(KEY); location.reload(); });
  $("read-form").addEventListener("submit", readAll);
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => showTab(tab.getAttribute("aria-controls")));
  }
  const drop = $("drop");
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    $("files").files = event.dataTransfer.files;
  });
  if (key()) signIn(key());
});

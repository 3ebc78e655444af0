// Wild Central's only script: actions are fetch() calls to the JSON API,
// progress is an EventSource on /api/v1/events. No framework, no build.
"use strict";

function showProblem(box, err) {
  if (!box) { return; }
  box.hidden = false;
  box.textContent = "";
  const msg = document.createElement("p");
  msg.className = "msg";
  msg.textContent = err.message || "The request failed.";
  box.appendChild(msg);
  for (const [k, label] of [["hint", "Next: "], ["alt", "Or: "]]) {
    if (err[k] && err[k].text) {
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = label + err[k].text;
      box.appendChild(p);
    }
  }
}

async function call(method, url, body) {
  const opt = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  const res = await fetch(url, opt);
  let data = null;
  const text = await res.text();
  if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
  if (!res.ok) {
    throw (data && data.error) || { message: res.status + " " + res.statusText };
  }
  return data;
}

function line(ev) {
  const e = ev.event;
  if (!e) { return ev.status ? "== " + ev.action + " " + ev.status : ""; }
  // A run over several apps (add-apps) names the app each line is about.
  let s = e.app && !ev.app ? e.app + ": " + e.kind : e.kind;
  if (e.phase) { s += " " + e.phase; }
  if (e.resource) { s += " " + e.resource.kind + "/" + e.resource.name + (e.resource.status ? " " + e.resource.status : ""); }
  if (e.message) { s += ": " + e.message; }
  if (e.error) { s += " ERROR " + e.error; }
  return s;
}

// follow streams an operation's log into pre from its first event and
// resolves with the terminal status. A reloaded page calls it again and
// the server replays the log from the start.
function follow(id, pre) {
  return new Promise(function (resolve) {
    const section = pre.closest("section");
    if (section) { section.hidden = false; }
    pre.hidden = false;
    pre.textContent = "";
    pre.dataset.op = id;
    const es = new EventSource("/api/v1/events?op=" + encodeURIComponent(id));
    // The API names its messages "event" (progress) and "status" (the end).
    const onMessage = function (m) {
      let ev;
      try { ev = JSON.parse(m.data); } catch (e) { return; }
      if (!ev.id) { return; }
      const l = line(ev);
      if (l) { pre.textContent += l + "\n"; pre.scrollTop = pre.scrollHeight; }
      if (ev.status && ev.status !== "running") { done(ev.status); }
    };
    es.addEventListener("event", onMessage);
    es.addEventListener("status", onMessage);
    // The server ends the stream when the operation ends; if it ended
    // before its last event reached us, the operation record says how.
    es.onerror = function () {
      if (pre.dataset.status) { return; }
      call("GET", "/api/v1/operations/" + encodeURIComponent(id)).then(function (info) {
        if (info && info.status && info.status !== "running") { done(info.status); }
      }, function () { /* keep the stream's own retry */ });
    };
    function done(status) {
      if (pre.dataset.status) { return; }
      pre.dataset.status = status;
      es.close();
      resolve(status);
    }
  });
}

function fieldError(input, text) {
  const err = document.getElementById(input.id + "-err");
  if (err) { err.textContent = text; }
  input.setAttribute("aria-invalid", text ? "true" : "false");
}

function validate(form) {
  let ok = true;
  for (const input of form.querySelectorAll("[data-type]")) {
    const v = input.value.trim();
    let msg = "";
    if (input.dataset.type === "integer" && v !== "" && !/^-?\d+$/.test(v)) { msg = "must be a whole number"; }
    if (input.dataset.type === "number" && v !== "" && isNaN(Number(v))) { msg = "must be a number"; }
    if (!msg && input.min !== "" && v !== "" && Number(v) < Number(input.min)) { msg = "must be " + input.min + " or more"; }
    fieldError(input, msg);
    if (msg) { if (ok) { input.focus(); } ok = false; }
  }
  for (const input of form.querySelectorAll("[data-must-be]")) {
    const msg = input.value === input.dataset.mustBe ? "" : "type " + input.dataset.mustBe + " to confirm";
    fieldError(input, msg);
    if (msg) { showProblem(form.querySelector(".problem"), { message: "To confirm, " + msg + "." }); ok = false; }
  }
  for (const input of form.querySelectorAll("[data-same]")) {
    const other = document.getElementById(input.dataset.same);
    if (other && other.value !== input.value) {
      showProblem(form.querySelector(".problem"), { message: "The passwords differ." });
      ok = false;
    }
  }
  return ok;
}

// valueOf is a field's JSON value: a checkbox is a boolean.
function valueOf(el) { return el.type === "checkbox" ? el.checked : el.value; }

// bodyOf builds the request from the form's named fields; "group.key"
// names nest. Several checkboxes of one name must all be ticked. An empty
// choice with data-empty-sets sets that flag instead (a removed key whose
// removal is accepted).
function bodyOf(form) {
  const body = form.dataset.body ? JSON.parse(form.dataset.body) : {};
  const onlyChanged = form.dataset.onlyChanged;
  for (const el of form.elements) {
    if (!el.name) { continue; }
    if (el.dataset.emptySets && el.value === "") { body[el.dataset.emptySets] = true; continue; }
    const v = valueOf(el);
    const dot = el.name.indexOf(".");
    if (dot < 0) {
      body[el.name] = el.type === "checkbox" && body[el.name] === false ? false : v;
      continue;
    }
    const group = el.name.slice(0, dot), key = el.name.slice(dot + 1);
    if (group === onlyChanged && el.value === el.dataset.initial) { continue; }
    body[group] = body[group] || {};
    body[group][key] = v;
  }
  return body;
}

// withAlso turns an add with dependencies the user chose to add along
// with the app (body.also: ref -> app) into one add-apps call: all of them
// or none, each dependency mapped for the app, the form's values the
// app's own.
function withAlso(url, body) {
  const also = body.also;
  delete body.also;
  const deps = Object.assign({}, body.deps || {});
  const names = [];
  for (const ref of Object.keys(also)) {
    deps[ref] = also[ref];
    names.push(also[ref]);
  }
  names.push(body.name);
  const values = {};
  values[body.name] = { deps: deps, set: body.set || {} };
  return { url: url + "/batch", body: { names: names, values: values } };
}

function then(form) {
  const to = form.dataset.then;
  if (!to) { return; }
  if (to === "reload") { location.reload(); } else { location.assign(to); }
}

async function submitApi(form) {
  const box = form.querySelector(".problem") || document.querySelector("#progress .problem");
  if (box) { box.hidden = true; }
  if (!validate(form)) { return; }
  const sp = form.dataset.api.indexOf(" ");
  const method = form.dataset.api.slice(0, sp), url = form.dataset.api.slice(sp + 1);
  const buttons = form.querySelectorAll("button");
  buttons.forEach(function (b) { b.disabled = true; });
  const pre = form.dataset.log ? document.querySelector(form.dataset.log) : form.querySelector(".log");
  try {
    let target = url, body = method === "DELETE" ? undefined : bodyOf(form);
    if (body && body.also) { ({ url: target, body } = withAlso(url, body)); }
    const res = await call(method, target, body);
    if (res && res.id && res.status === "running") {
      const status = await follow(res.id, pre);
      if (status !== "succeeded") {
        const info = await call("GET", "/api/v1/operations/" + encodeURIComponent(res.id));
        throw (info && info.error) || { message: "The operation " + status + "." };
      }
    }
    then(form);
  } catch (err) {
    showProblem(box, err);
  } finally {
    buttons.forEach(function (b) { b.disabled = false; });
  }
}

async function submitConfig(form) {
  const box = form.querySelector(".problem");
  box.hidden = true;
  if (!validate(form)) { return; }
  try {
    for (const el of form.querySelectorAll("[name^='set.']")) {
      if (el.value === el.dataset.initial) { continue; }
      await call("PUT", form.dataset.config, { path: form.dataset.prefix + el.name.slice(4), value: el.value });
    }
    then(form);
  } catch (err) {
    showProblem(box, err);
  }
}

// submitSchedule checks the cron with the daemon's own parser, showing
// the error beside the field or the next runs, then writes the app's
// backup.apps.APP.schedule and .retention keys through the config API.
async function submitSchedule(form) {
  const box = form.querySelector(".problem");
  box.hidden = true;
  if (!validate(form)) { return; }
  const cron = form.elements.schedule;
  const spec = cron.value.trim();
  fieldError(cron, "");
  document.getElementById(cron.id + "-next").textContent = "";
  try {
    if (spec !== "") {
      const check = await call("GET", "/api/v1/backup/schedule-check?schedule=" + encodeURIComponent(spec)).catch(function (err) {
        fieldError(cron, err.message || "not a schedule");
        cron.focus();
        return null;
      });
      if (!check) { return; }
      document.getElementById(cron.id + "-next").textContent = "Next runs (UTC): " + check.next.join(", ");
    }
    const keep = {};
    for (const el of form.querySelectorAll("[name^='retention.']")) {
      if (el.value.trim() !== "") { keep[el.name.slice(10)] = Number(el.value); }
    }
    // JSON is YAML: the cron stays a string, the counts numbers.
    await call("PUT", form.dataset.schedule, { path: form.dataset.prefix + "schedule", value: JSON.stringify(spec) });
    await call("PUT", form.dataset.schedule, { path: form.dataset.prefix + "retention", value: JSON.stringify(keep) });
    then(form);
  } catch (err) {
    showProblem(box, err);
  }
}

document.addEventListener("submit", function (ev) {
  const form = ev.target;
  if (form.dataset.api) { ev.preventDefault(); submitApi(form); }
  if (form.dataset.config) { ev.preventDefault(); submitConfig(form); }
  if (form.dataset.schedule) { ev.preventDefault(); submitSchedule(form); }
});

document.addEventListener("click", async function (ev) {
  const b = ev.target.closest("[data-reveal]");
  if (!b) { return; }
  const span = b.parentElement.querySelector(".secret");
  try {
    const res = await call("GET", b.dataset.reveal);
    span.textContent = String(res.value);
    b.hidden = true;
  } catch (err) {
    span.textContent = err.message;
  }
});

// refreshDefaults shows what templated defaults resolve to with the
// dependencies now chosen in the add form.
async function refreshDefaults(form) {
  const q = new URLSearchParams();
  for (const sel of form.querySelectorAll("select[name^='deps.']")) { q.append("dep", sel.name.slice(5) + "=" + sel.value); }
  try {
    const values = await call("GET", form.dataset.defaults + "?" + q.toString());
    for (const el of form.querySelectorAll("[data-type][name^='set.']")) {
      const code = document.querySelector("#" + el.id + "-tpl code.resolved");
      let v = values;
      for (const k of el.name.slice(4).split(".")) { v = v && typeof v === "object" ? v[k] : undefined; }
      if (code && v !== undefined) { code.textContent = String(v); }
    }
  } catch (err) { /* the preview is a courtesy; the add itself reports errors */ }
}

document.addEventListener("change", function (ev) {
  const el = ev.target;
  if (el.name && el.name.startsWith("deps.") && el.form && el.form.dataset.defaults) { refreshDefaults(el.form); }
  if (el.dataset.fill && el.files && el.files[0]) {
    el.files[0].text().then(function (t) { document.getElementById(el.dataset.fill).value = t; });
  }
});

document.addEventListener("DOMContentLoaded", function () {
  // Tests (and styles) can tell that the page's actions are live.
  document.documentElement.dataset.ready = "1";
  for (const pre of document.querySelectorAll("pre[data-follow]")) {
    follow(pre.dataset.follow, pre).then(function (status) {
      // On the app page, a finished operation changes what the page shows.
      // The backups page shows a failure's mark on the plan as well.
      if ((document.getElementById("state") && status === "succeeded") || pre.dataset.reload === "any") { location.reload(); }
    });
  }
});

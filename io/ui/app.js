// The Control UI: a hash router over seven pages, one GatewayClient, everything live from
// events where the gateway has one (presence, chat, health); logs follow `logs.tail` by cursor.

import { GatewayClient } from "./gateway.js";
import { loadDevice } from "./device.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "openclaw.control.token";
const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];

const state = { client: null, hello: null, connectedAt: 0, page: "overview", presence: [], sessions: [], chatRun: null, logsCursor: null, logsTimer: null, configHash: null };

// ---------- helpers ----------
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

function fill(list, items, render, empty = "None") {
  list.replaceChildren(...(items.length ? items.map(render) : [el("li", { class: "hint" }, empty)]));
}

function duration(ms) {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
}

function textOf(message) {
  if (!message) return "";
  if (typeof message.content === "string") return message.content;
  if (Array.isArray(message.content)) return message.content.filter((p) => p && (p.type === "text" || p.text)).map((p) => p.text ?? "").join("");
  return message.text ?? "";
}

function has(method) {
  return !!state.hello?.features?.methods?.includes(method);
}

function uuid() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// ---------- token ----------
function takeTokenFromUrl() {
  const hash = location.hash.replace(/^#/, "");
  const params = new URLSearchParams(hash.startsWith("/") ? hash.split("?")[1] || "" : hash);
  const token = params.get("token");
  if (token) {
    localStorage.setItem(TOKEN_KEY, token);
    history.replaceState(null, "", location.pathname + location.search + "#/overview");
  }
}

// ---------- connection ----------
function setBadge(text, kind) {
  const b = $("conn-state");
  b.textContent = text;
  b.className = `badge badge-${kind}`;
}

function onState(s) {
  if (s.state === "connected") {
    state.hello = s.hello;
    state.connectedAt = Date.now();
    state.presence = s.hello.snapshot?.presence ?? [];
    setBadge("Connected", "on");
    $("auth-panel").hidden = true;
    renderOverview();
    refreshPage();
  } else if (s.state === "connecting") {
    setBadge("Connecting…", "off");
  } else if (s.state === "refused" || s.state === "error") {
    setBadge("Auth error", "bad");
    $("auth-error").textContent = s.error;
    $("auth-panel").hidden = false;
  } else {
    setBadge("Disconnected", "off");
  }
}

async function connect() {
  state.client?.stop();
  const token = localStorage.getItem(TOKEN_KEY) || "";
  const device = await loadDevice();
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const client = new GatewayClient({ url: `${proto}://${location.host}/`, token, device, onState });
  state.client = client;
  client.on("presence", (p) => { state.presence = p.presence ?? []; renderPresence(); });
  client.on("health", () => { if (state.page === "overview") loadReloadStatus(); });
  client.on("chat", onChat);
  client.on("agent", onAgent);
  client.on("device.pair.requested", () => { if (state.page === "devices") loadDevices(); });
  client.on("device.pair.resolved", () => { if (state.page === "devices") loadDevices(); });
  client.on("shutdown", (p) => setBadge(`Gateway stopping: ${p.reason ?? ""}`, "off"));
  client.start();
}

// ---------- overview ----------
function renderOverview() {
  const h = state.hello;
  if (!h) return;
  $("ov-state").textContent = "Connected";
  $("ov-version").textContent = h.server?.version ?? "—";
  const up = (h.snapshot?.uptimeMs ?? 0) + (Date.now() - state.connectedAt);
  $("ov-uptime").textContent = duration(up);
  $("ov-auth").textContent = `${h.snapshot?.authMode ?? h.auth?.method ?? "—"} (role ${h.auth?.role ?? "?"})`;
  $("ov-scopes").textContent = (h.auth?.scopes ?? []).join(", ") || "none (this browser is not paired yet)";
  renderPresence();
  loadReloadStatus();
  loadRecentSessions();
}

function renderPresence() {
  fill($("ov-presence"), state.presence, (p) => el("li", {}, `${p.clientId ?? p.host ?? "client"} · ${p.mode ?? ""} · ${p.platform ?? ""}${p.ip ? ` · ${p.ip}` : ""}`), "No clients");
}

async function loadReloadStatus() {
  if (!has("health")) return;
  try {
    const h = await state.client.request("health", {});
    const r = h.configReload;
    $("ov-reload").textContent = r ? `${r.status ?? (r.active ? "active" : "off")}${r.lastError ? ` — ${r.lastError}` : ""}` : "—";
  } catch (e) { $("ov-reload").textContent = e.message; }
}

async function listSessions(limit) {
  const r = await state.client.request("sessions.list", limit ? { limit } : {});
  const sessions = (r.sessions ?? []).slice().sort((a, b) => (b.updatedAt ?? 0) - (a.updatedAt ?? 0));
  state.sessions = sessions;
  return sessions;
}

async function loadRecentSessions() {
  try {
    const s = await listSessions(10);
    fill($("ov-sessions"), s.slice(0, 5), (x) => el("li", {}, x.key), "No sessions yet");
  } catch (e) { fill($("ov-sessions"), [], () => null, e.message); }
}

// ---------- sessions ----------
async function loadSessions() {
  try {
    const s = await listSessions();
    fill($("sessions-list"), s, (x) => {
      const li = el("li", { tabindex: "0", role: "option", "data-key": x.key }, x.key);
      const open = () => openHistory(x.key, li);
      li.addEventListener("click", open);
      li.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
      return li;
    }, "No sessions yet");
  } catch (e) { fill($("sessions-list"), [], () => null, e.message); }
}

async function openHistory(key, li) {
  for (const x of $("sessions-list").children) x.removeAttribute("aria-selected");
  li?.setAttribute("aria-selected", "true");
  $("history-title").textContent = `History — ${key}`;
  try {
    const r = await state.client.request("chat.history", { sessionKey: key, limit: 200 });
    fill($("history"), r.messages ?? [], (m) => el("li", { class: m.role ?? "" }, textOf(m)), "Empty");
  } catch (e) { fill($("history"), [], () => null, e.message); }
}

// ---------- chat ----------
function chatBubble(role, text) {
  const li = el("li", { class: role }, text);
  $("chat-log").append(li);
  li.scrollIntoView({ block: "end" });
  return li;
}

async function sendChat(ev) {
  ev?.preventDefault();
  const text = $("chat-input").value.trim();
  if (!text) return;
  const sessionKey = $("chat-session").value.trim() || "agent:main:main";
  $("chat-error").textContent = "";
  chatBubble("user", text);
  $("chat-input").value = "";
  const bubble = chatBubble("assistant", "…");
  state.chatRun = { sessionKey, runId: null, bubble };
  $("chat-abort").disabled = false;
  try {
    const r = await state.client.request("chat.send", { sessionKey, message: text, idempotencyKey: uuid() });
    if (state.chatRun && state.chatRun.bubble === bubble) state.chatRun.runId = r.runId ?? null;
  } catch (e) {
    $("chat-error").textContent = e.message;
    bubble.remove();
    endRun();
  }
}

function endRun() {
  state.chatRun = null;
  $("chat-abort").disabled = true;
}

function onChat(p) {
  const run = state.chatRun;
  if (!run || p.sessionKey !== run.sessionKey) return;
  if (run.runId && p.runId && p.runId !== run.runId) return;
  run.runId = run.runId ?? p.runId;
  const text = textOf(p.message);
  if (text) run.bubble.textContent = text;
  if (p.state === "final" || p.state === "aborted" || p.state === "error") {
    if (p.state === "error") $("chat-error").textContent = p.errorMessage ?? "the run failed";
    if (p.state === "aborted") run.bubble.textContent += " [stopped]";
    run.bubble.dataset.state = p.state;
    endRun();
  }
}

function onAgent(p) {
  // Tool progress could show here; the chat event carries the text.
  void p;
}

async function abortChat() {
  const run = state.chatRun;
  if (!run) return;
  try {
    await state.client.request("chat.abort", run.runId ? { sessionKey: run.sessionKey, runId: run.runId } : { sessionKey: run.sessionKey });
  } catch (e) { $("chat-error").textContent = e.message; }
}

// ---------- logs ----------
function levelOf(line) {
  try {
    const j = JSON.parse(line);
    const lvl = String(j.level ?? j._meta?.logLevelName ?? j.lvl ?? "info").toLowerCase();
    return { level: lvl, text: `${j.time ?? j.ts ?? ""} ${lvl.toUpperCase()} ${j.msg ?? j.message ?? j["0"] ?? line}`.trim() };
  } catch {
    const m = /\b(TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\b/i.exec(line);
    return { level: m ? m[1].toLowerCase() : "info", text: line };
  }
}

async function tailLogs() {
  clearTimeout(state.logsTimer);
  if (state.page !== "logs" || !state.client?.hello) return;
  try {
    const params = { limit: 200 };
    if (state.logsCursor != null) params.cursor = state.logsCursor;
    const r = await state.client.request("logs.tail", params);
    if (r.reset) $("logs").replaceChildren();
    state.logsCursor = r.cursor ?? state.logsCursor;
    const min = LEVELS.indexOf($("logs-level").value);
    const out = $("logs");
    for (const line of r.lines ?? []) {
      const { level, text } = levelOf(line);
      const span = el("span", { class: `lvl-${level}`, "data-level": level }, text + "\n");
      span.hidden = LEVELS.indexOf(level) < min;
      out.append(span);
    }
    while (out.childNodes.length > 2000) out.firstChild.remove();
    if ((r.lines ?? []).length) out.scrollTop = out.scrollHeight;
    $("logs-error").textContent = "";
  } catch (e) { $("logs-error").textContent = e.message; }
  if ($("logs-follow").checked) state.logsTimer = setTimeout(tailLogs, 1000);
}

function filterLogs() {
  const min = LEVELS.indexOf($("logs-level").value);
  for (const s of $("logs").children) s.hidden = LEVELS.indexOf(s.dataset.level) < min;
}

// ---------- devices, channels ----------
async function loadDevices() {
  $("devices-error").textContent = "";
  if (!has("device.pair.list")) {
    $("devices-error").textContent = "This gateway has no device pairing methods yet.";
    return;
  }
  try {
    const r = await state.client.request("device.pair.list", {});
    fill($("devices-pending"), r.pending ?? [], (d) => el("li", {}, `${d.displayName ?? d.clientId ?? d.deviceId} (${d.platform ?? "?"}, ${d.role ?? "?"}) `,
      el("button", { type: "button", onclick: () => resolveDevice("device.pair.approve", d.requestId) }, "Approve"), " ",
      el("button", { type: "button", class: "secondary", onclick: () => resolveDevice("device.pair.reject", d.requestId) }, "Reject")), "No pending requests");
    fill($("devices-paired"), r.paired ?? [], (d) => el("li", {}, `${d.displayName ?? d.clientId ?? d.deviceId} · ${(d.roles ?? [d.role]).join(", ")}`), "No paired devices");
  } catch (e) { $("devices-error").textContent = e.message; }
  if (has("node.list")) {
    try {
      const n = await state.client.request("node.list", {});
      fill($("nodes"), n.nodes ?? [], (x) => el("li", {}, `${x.displayName ?? x.nodeId} · ${x.connected ? "connected" : "offline"}`), "No nodes");
    } catch (e) { fill($("nodes"), [], () => null, e.message); }
  }
}

async function resolveDevice(method, requestId) {
  try { await state.client.request(method, { requestId }); } catch (e) { $("devices-error").textContent = e.message; }
  loadDevices();
}

async function loadChannels() {
  $("channels-error").textContent = "";
  if (!has("channels.status")) { $("channels-error").textContent = "This gateway reports no channels yet."; return; }
  try {
    const r = await state.client.request("channels.status", {});
    const rows = [];
    for (const [channel, accounts] of Object.entries(r.channelAccounts ?? {})) {
      for (const a of accounts) rows.push({ channel, ...a });
    }
    fill($("channels"), rows, (a) => el("li", {}, `${a.channel}/${a.accountId ?? "default"}: ${a.running ? "running" : a.configured ? "configured" : "off"}${a.lastError ? ` — ${a.lastError}` : ""}`), "No channels configured");
  } catch (e) { $("channels-error").textContent = e.message; }
}

// ---------- config ----------
async function loadConfig() {
  $("config-errors").replaceChildren();
  $("config-status").textContent = "";
  try {
    const r = await state.client.request("config.get", {});
    $("config-text").value = r.raw ?? JSON.stringify(r.config ?? {}, null, 2);
    state.configHash = r.hash ?? null;
    showIssues(r.issues ?? []);
  } catch (e) { $("config-status").textContent = e.message; }
}

// The range of 1-based `line` in `text`.
function lineRange(text, line) {
  let start = 0;
  for (let n = 1; n < line; n++) {
    const next = text.indexOf("\n", start);
    if (next < 0) return null;
    start = next + 1;
  }
  const end = text.indexOf("\n", start);
  return [start, end < 0 ? text.length : end];
}

// Selects the issue's line in the editor (the gateway names the line of the key it refused).
function showLine(issue) {
  const area = $("config-text");
  const range = issue.line ? lineRange(area.value, issue.line) : null;
  if (!range) return;
  area.focus();
  area.setSelectionRange(range[0], range[1]);
  const lineHeight = parseFloat(getComputedStyle(area).lineHeight) || 18;
  area.scrollTop = Math.max(0, (issue.line - 3) * lineHeight);
}

function showIssues(issues) {
  const area = $("config-text");
  area.removeAttribute("aria-invalid");
  fill($("config-errors"), issues, (i) => {
    const where = i.line ? `Line ${i.line}${i.column ? `, column ${i.column}` : ""}: ` : "";
    const li = el("li", { "data-line": i.line ?? "" }, `${where}${i.path && i.path !== "<root>" ? `${i.path}: ` : ""}${i.message}`);
    if (i.line) {
      li.tabIndex = 0;
      li.addEventListener("click", () => showLine(i));
      li.addEventListener("keydown", (e) => { if (e.key === "Enter") showLine(i); });
    }
    return li;
  }, "");
  if (!issues.length) { $("config-errors").replaceChildren(); return; }
  area.setAttribute("aria-invalid", "true");
  const first = issues.find((i) => i.line);
  if (first) showLine(first);
}

async function saveConfig() {
  $("config-status").textContent = "Saving…";
  $("config-errors").replaceChildren();
  try {
    const params = { raw: $("config-text").value };
    if (state.configHash) params.baseHash = state.configHash;
    const r = await state.client.request("config.set", params);
    state.configHash = r.hash ?? state.configHash;
    $("config-status").textContent = "Saved.";
  } catch (e) {
    $("config-status").textContent = e.message;
    showIssues(e.details?.issues ?? []);
  }
}

// ---------- router ----------
const loaders = { overview: renderOverview, sessions: loadSessions, chat: () => {}, logs: () => { state.logsCursor = null; $("logs").replaceChildren(); tailLogs(); }, devices: loadDevices, channels: loadChannels, config: loadConfig };

function route() {
  const page = (location.hash.match(/^#\/([a-z]+)/) || [])[1] || "overview";
  state.page = loaders[page] ? page : "overview";
  for (const s of document.querySelectorAll(".page")) s.hidden = s.id !== `page-${state.page}`;
  for (const a of document.querySelectorAll(".tabs a")) {
    if (a.dataset.page === state.page) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  document.title = `OpenClaw — ${document.querySelector(`#page-${state.page}`).dataset.title}`;
  refreshPage();
}

function refreshPage() {
  if (state.client?.hello) loaders[state.page]();
}

// ---------- wiring ----------
takeTokenFromUrl();
window.addEventListener("hashchange", () => { takeTokenFromUrl(); route(); });
$("auth-form").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem(TOKEN_KEY, $("auth-token").value.trim());
  $("auth-error").textContent = "";
  connect();
});
$("sessions-refresh").addEventListener("click", loadSessions);
$("chat-form").addEventListener("submit", sendChat);
$("chat-input").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) sendChat(e); });
$("chat-abort").addEventListener("click", abortChat);
$("logs-level").addEventListener("change", filterLogs);
$("logs-follow").addEventListener("change", () => { if ($("logs-follow").checked) tailLogs(); });
$("config-reload").addEventListener("click", loadConfig);
$("config-save").addEventListener("click", saveConfig);
setInterval(() => { if (state.hello && state.page === "overview") $("ov-uptime").textContent = duration((state.hello.snapshot?.uptimeMs ?? 0) + (Date.now() - state.connectedAt)); }, 1000);
route();
if (!localStorage.getItem(TOKEN_KEY)) $("auth-panel").hidden = false;
connect();
window.__openclaw = state;

// Alerts on the page: a banner with the highest open severity, the list of open alerts with an
// acknowledge button for the roles that may, an optional beep, and the webhook counters.
// Everything from the gateway is rendered with textContent only.
import { $, fieldsOf, fromTemplate, reconcile, setText, setTitle } from "./dom.js";
import { EMPTY, formatClock, formatDuration, formatPercent, isNumber } from "./format.js";

const SEVERITIES = ["critical", "warning", "info"];
const SOUND_KEY = "floorpulse.sound";
const BEEPS = { critical: [880, 880], warning: [660] }; // Hz, one tone each

const state = {
  access: null, // the gateway's "access" message
  tenant: "",
  alerts: new Map(), // alert id -> latest transition
  items: new Map(), // alert id -> {root, fields}
  acking: new Set(), // alert ids whose acknowledgement is on its way
  collapsed: false,
  sound: false,
  audio: null,
  beeps: 0,
  send: () => false,
  context: () => ({ agents: new Map(), timezone: "UTC" }),
};

/** `send(message)` writes to the socket; `context()` gives the live view's agents and zone. */
export function initAlerts(send, context) {
  state.send = send;
  state.context = context;
  try {
    state.sound = localStorage.getItem(SOUND_KEY) === "on";
  } catch {
    state.sound = false;
  }
  $("#alert-banner").addEventListener("click", () => {
    state.collapsed = !state.collapsed;
    render();
  });
  $("#sound-toggle").addEventListener("click", () => {
    state.sound = !state.sound;
    try {
      localStorage.setItem(SOUND_KEY, state.sound ? "on" : "off");
    } catch {
      // private mode: the choice lasts for this page only
    }
    if (state.sound) audio();
    renderSound();
  });
  renderSound();
}

// --- messages from the gateway -------------------------------------------------------------

export function onAccess(message) {
  state.access = message;
  const who = message.anonymous ? "" : `${message.name} · ${message.role}`;
  setText($("#who"), who);
  const sees = Array.isArray(message.audiences) && message.audiences.length > 0;
  $("#alerts").hidden = !sees;
  $("#sound-toggle").hidden = !sees;
  if (!sees) $("#webhooks").hidden = true;
  render();
}

export function onAlerts(message) {
  state.tenant = String(message.tenant ?? "");
  state.alerts = new Map();
  for (const alert of Array.isArray(message.alerts) ? message.alerts : []) {
    if (alert && typeof alert.alert_id === "string") state.alerts.set(alert.alert_id, alert);
  }
  for (const id of [...state.acking]) if (!state.alerts.has(id)) state.acking.delete(id);
  render();
}

export function onAlert(alert) {
  if (typeof alert.alert_id !== "string") return;
  const id = alert.alert_id;
  if (alert.state === "cleared") {
    state.alerts.delete(id);
  } else {
    const isNew = !state.alerts.has(id) && alert.state === "raised";
    state.alerts.set(id, alert);
    if (isNew) beep(alert.severity);
  }
  if (alert.state !== "raised") state.acking.delete(id);
  render();
}

export function onAckSent(message) {
  // The acknowledgement is on its way to the worker; its "acknowledged" transition follows.
  if (typeof message.alert_id === "string") state.acking.add(message.alert_id);
  render();
}

/** An error from the gateway: buttons waiting for an answer may be pressed again. */
export function onError() {
  const waiting = [...state.items.values()].filter((item) => item.waiting);
  for (const item of waiting) item.waiting = false;
  if (waiting.length > 0) render();
}

export function onWebhooks(stats) {
  const box = $("#webhooks");
  box.hidden = !state.access?.audiences?.length || !stats.endpoints;
  setText($("#webhooks-sent"), String(stats.sent ?? 0));
  setText($("#webhooks-failed"), String(stats.failed ?? 0));
  setText($("#webhooks-retries"), String(stats.retries ?? 0));
  box.classList.toggle("failing", (stats.failed ?? 0) > 0);
  const lines = [`Alert webhooks (${stats.endpoints ?? 0} endpoint(s)): transitions sent, `
    + "given up, and attempts repeated."];
  if (stats.dropped) lines.push(`${stats.dropped} dropped (queue full)`);
  if (stats.last_error) lines.push(`Last error: ${stats.last_error} (${stats.last_error_at ?? ""})`);
  setTitle(box, lines.join("\n"));
}

/** Connection lost or a new subscription: what was shown may be out of date. */
export function resetAlerts() {
  state.alerts = new Map();
  state.acking.clear();
  render();
}

// --- rendering ---------------------------------------------------------------------------

export function renderAlerts() {
  render();
}

function severityIndex(alert) {
  const index = SEVERITIES.indexOf(alert.severity);
  return index < 0 ? SEVERITIES.length : index;
}

function ordered() {
  return [...state.alerts.values()].sort((a, b) => severityIndex(a) - severityIndex(b)
    || String(b.raised_at ?? "").localeCompare(String(a.raised_at ?? "")));
}

function render() {
  const alerts = ordered();
  renderBanner(alerts);
  const list = $("#alert-list");
  list.hidden = state.collapsed || alerts.length === 0;
  reconcile(list, state.items, alerts.map((alert) => alert.alert_id), createItem,
    (id, item) => updateItem(item, state.alerts.get(id)));
}

function renderBanner(alerts) {
  const banner = $("#alert-banner");
  const top = alerts[0];
  banner.dataset.severity = top ? String(top.severity) : "none";
  banner.setAttribute("aria-expanded", String(!state.collapsed && alerts.length > 0));
  if (!top) {
    setText($("#alert-banner-severity"), "OK");
    setText($("#alert-banner-text"), "No open alerts");
    setText($("#alert-banner-count"), "");
    return;
  }
  setText($("#alert-banner-severity"), String(top.severity).toUpperCase());
  setText($("#alert-banner-text"), String(top.message ?? top.rule_id ?? ""));
  const counts = SEVERITIES.map((severity) => [severity,
    alerts.filter((alert) => alert.severity === severity).length])
    .filter(([, count]) => count > 0).map(([severity, count]) => `${count} ${severity}`);
  setText($("#alert-banner-count"), `${alerts.length} open · ${counts.join(", ")}`
    + (state.collapsed ? " · show" : ""));
}

function createItem(id) {
  const root = fromTemplate("alert-item");
  root.dataset.alert = id;
  const item = { root, fields: fieldsOf(root), waiting: false };
  const acknowledge = () => {
    const alert = state.alerts.get(id);
    if (!alert || item.waiting) return;
    const comment = item.fields.comment.value.trim();
    const message = { type: "ack", tenant: alert.scope?.tenant ?? state.tenant, alert_id: id };
    if (comment) message.comment = comment;
    if (state.send(message)) {
      item.waiting = true;
      updateItem(item, alert);
    }
  };
  item.fields.ack_button.addEventListener("click", acknowledge);
  item.fields.comment.addEventListener("keydown", (event) => {
    if (event.key === "Enter") acknowledge();
  });
  return item;
}

function mayAcknowledge(alert) {
  const access = state.access;
  if (!access?.can_acknowledge || alert.state !== "raised") return false;
  if (access.role === "admin") return true;
  const audience = Array.isArray(alert.audience) ? alert.audience : [];
  return audience.some((name) => access.audiences.includes(name));
}

function updateItem(item, alert) {
  const { fields, root } = item;
  const severity = SEVERITIES.includes(alert.severity) ? alert.severity : "info";
  root.dataset.severity = severity;
  root.dataset.state = String(alert.state);
  setText(fields.severity, severity);
  setText(fields.message, String(alert.message ?? alert.rule_id ?? ""));
  setText(fields.state, alert.state === "acknowledged" ? "Acknowledged" : "Open");
  setText(fields.condition, String(alert.condition ?? alert.rule_id ?? ""));
  setText(fields.scope, scopeText(alert.scope));
  setText(fields.value, formatValue(alert.metric, alert.value));
  setTitle(fields.value_box, `Worst ${formatValue(alert.metric, alert.worst_value)}; `
    + `threshold ${formatValue(alert.metric, alert.threshold)}, clears at `
    + `${formatValue(alert.metric, alert.clear_threshold)}`);
  setText(fields.raised, raisedText(alert.raised_at));
  setTitle(fields.raised_box, `Raised ${alert.raised_at ?? EMPTY} (stream time)`);
  let acknowledged = "";
  if (alert.state === "acknowledged") {
    acknowledged = `Acknowledged by ${alert.acknowledged_by ?? "?"}`;
    if (alert.comment) acknowledged += `: ${alert.comment}`;
  }
  setText(fields.acknowledged, acknowledged);
  const may = mayAcknowledge(alert);
  fields.ack_box.hidden = !may;
  const sending = item.waiting || state.acking.has(alert.alert_id);
  fields.ack_button.disabled = sending;
  fields.comment.disabled = sending;
  setText(fields.ack_button, sending ? "Acknowledging…" : "Acknowledge");
  if (!state.acking.has(alert.alert_id) && alert.state !== "raised") item.waiting = false;
}

function scopeText(scope) {
  if (!scope || typeof scope !== "object") return "";
  const { agents } = state.context();
  const parts = [];
  if (scope.queue) parts.push(`queue ${scope.queue}`);
  if (scope.team) parts.push(`team ${scope.team}`);
  if (scope.agent) {
    const name = agents.get(scope.agent)?.name;
    parts.push(`agent ${name ? `${name} (${scope.agent})` : scope.agent}`);
  }
  if (scope.reason) parts.push(String(scope.reason));
  if (parts.length === 0 && scope.tenant) parts.push(`tenant ${scope.tenant}`);
  return parts.join(" · ");
}

/** A metric's value as the tiles show it: ratios as %, seconds as mm:ss, counts as numbers. */
function formatValue(metric, value) {
  if (!isNumber(value)) return EMPTY;
  const name = String(metric ?? "");
  if (/_s(_|$)/.test(name)) return formatDuration(value);
  if (/service_level|rate|occupancy/.test(name)) return formatPercent(value);
  return String(Math.round(value * 100) / 100);
}

function raisedText(iso) {
  const epoch = typeof iso === "string" ? Date.parse(iso) / 1000 : NaN;
  if (!isNumber(epoch)) return EMPTY;
  return formatClock(epoch, state.context().timezone).time;
}

// --- sound -------------------------------------------------------------------------------

function renderSound() {
  const button = $("#sound-toggle");
  button.setAttribute("aria-pressed", String(state.sound));
  setText(button, state.sound ? "Sound on" : "Sound off");
  button.dataset.beeps = String(state.beeps);
}

function audio() {
  if (!state.audio) {
    try {
      state.audio = new AudioContext();
    } catch {
      return null;
    }
  }
  if (state.audio.state === "suspended") state.audio.resume().catch(() => {});
  return state.audio;
}

/** A short beep for a new critical or warning alert, when the sound is on. */
function beep(severity) {
  const tones = BEEPS[severity];
  if (!state.sound || !tones) return;
  state.beeps += 1;
  $("#sound-toggle").dataset.beeps = String(state.beeps);
  const context = audio();
  if (!context) return;
  tones.forEach((frequency, i) => {
    const start = context.currentTime + i * 0.25;
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.2);
    oscillator.connect(gain).connect(context.destination);
    oscillator.start(start);
    oscillator.stop(start + 0.22);
  });
}

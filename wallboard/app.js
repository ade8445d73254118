// The wallboard: a snapshot then updates over /ws, rendered with textContent only.
// Two views (#wallboard, #intervals) and a help panel ("?") generated from definitions.js;
// alerts (alerts.js) for the roles that see them. The access token comes from the page's
// URL (?token=...), is kept for the tab's session and taken out of the address bar.
import {
  initAlerts, onAccess, onAckSent, onAlert, onAlerts, onError, onWebhooks, renderAlerts,
  resetAlerts,
} from "./alerts.js";
import {
  DEFINITIONS, GROUPS, PERIODS, ahtParts, describe, slFormula, slTargetText, slTooltip,
  slVariant,
} from "./definitions.js";
import {
  $, applyDefinitions, fieldsOf, fromTemplate, reconcile, setText, setTitle,
} from "./dom.js";
import {
  AGENT_STATES, EMPTY, STATE_LABELS, applyUpdate, formatClock, formatCount, formatDuration,
  formatPercent, formatSeconds, fromSnapshot, isNumber, serviceLevelClass,
} from "./format.js";
import { renderIntervals } from "./intervals.js";
import { renderWfm, tickWfm } from "./wfm.js";
import {
  initQa, onQaAccess, onQaActionSent, onQaError, onQaItem, onQaQueue, renderQa,
} from "./qa.js";

const STALE_AFTER_MS = 5000;
const TICK_MS = 250;
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 5000;
const NOTICE_MS = 10000;
const VIEWS = ["wallboard", "intervals", "wfm", "qa"];
const TOKEN_KEY = "floorpulse.token";
// Close codes after which reconnecting cannot help (gateway/server.py), and "connect again".
const REFUSED = { 4401: "Access refused", 4403: "Origin not allowed" };
const CLOSE_RECONNECT = 4000;
const SL_CLASSES = ["sl-green", "sl-amber", "sl-red", "sl-none"];
// What the page passes on from its own address to the gateway (docs/live-state.md):
// `?interval_s=0.1` asks for updates every 0.1 s (a supervisor's screen); a wallboard
// asks for nothing and gets the gateway's default.
const SUBSCRIPTION_KEYS = ["tenant", "queues", "teams", "interval_s"];

// --- state -------------------------------------------------------------------------------

const page = {
  view: null, // {scalars, queues: Map, teams: Map, agents: Map, intervals: Map}
  receivedAt: 0, // performance.now() when as_of_epoch last arrived
  lastMessageAt: 0,
  status: "disconnected",
  socket: null,
  attempt: 0,
  shown: "wallboard", // the view on screen
  tiles: new Map(), // queue name -> {root, fields}
  teams: new Map(), // team name -> {root, fields}
  cards: new Map(), // agent id -> {root, fields}
  helpKey: "", // the queue formulas the help panel shows
  token: null, // the access token, if any
  lastError: "", // the gateway's last error message
};

/** Stream time now: the latest event time plus the time since it arrived. */
function streamNow() {
  const asOf = page.view?.scalars.as_of_epoch;
  if (!isNumber(asOf)) return null;
  return asOf + (performance.now() - page.receivedAt) / 1000;
}

// --- connection --------------------------------------------------------------------------

/** The token from `?token=` (then kept in sessionStorage and taken out of the URL). */
function takeToken() {
  const url = new URL(window.location.href);
  const token = url.searchParams.get("token");
  if (token) {
    try {
      sessionStorage.setItem(TOKEN_KEY, token);
    } catch {
      // storage unavailable: the token lasts as long as the page
    }
    url.searchParams.delete("token");
    window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
    return token;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function socketUrl() {
  const query = new URLSearchParams(window.location.search);
  const forward = new URLSearchParams();
  for (const key of SUBSCRIPTION_KEYS) {
    const value = query.get(key);
    if (value) forward.set(key, value);
  }
  if (page.token) forward.set("token", page.token);
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const search = forward.toString();
  return `${scheme}//${window.location.host}/ws${search ? `?${search}` : ""}`;
}

function connect() {
  const socket = new WebSocket(socketUrl());
  page.socket = socket;
  socket.addEventListener("open", () => {
    page.attempt = 0;
    page.lastMessageAt = performance.now();
    setStatus("connected");
  });
  socket.addEventListener("message", (event) => {
    page.lastMessageAt = performance.now();
    if (page.status !== "connected") setStatus("connected");
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    onMessage(message);
  });
  socket.addEventListener("close", (event) => {
    if (page.socket !== socket) return;
    page.socket = null;
    resetAlerts();
    if (event.code in REFUSED) {
      setStatus("refused");
      showNotice(`${REFUSED[event.code]}: ${page.lastError || event.reason}. `
        + "Open the page with a valid ?token= to connect.", true);
      return; // reconnecting cannot help
    }
    setStatus("disconnected");
    const backoff = event.code === CLOSE_RECONNECT ? 0
      : Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** page.attempt);
    page.attempt += 1;
    setTimeout(connect, backoff * (0.8 + Math.random() * 0.4));
  });
}

/** Send a message to the gateway; `false` when not connected. */
function send(message) {
  const socket = page.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showNotice("Not connected to the gateway: try again in a moment");
    return false;
  }
  socket.send(JSON.stringify(message));
  return true;
}

function onMessage(message) {
  if (message === null || typeof message !== "object") return;
  if (message.type === "snapshot" && message.data) {
    describeSubscription(true);
    page.view = fromSnapshot(message.data);
    page.receivedAt = performance.now();
    render();
  } else if (message.type === "update" && message.data && page.view) {
    applyUpdate(page.view, message.data);
    if (isNumber(message.data.as_of_epoch)) page.receivedAt = performance.now();
    render();
  } else if (message.type === "access") {
    onAccess(message);
    onQaAccess(message);
  } else if (message.type === "qa_queue") {
    onQaQueue(message);
  } else if (message.type === "qa_item") {
    onQaItem(message);
  } else if (message.type === "qa_action_sent") {
    onQaActionSent(message);
  } else if (message.type === "alerts") {
    onAlerts(message);
  } else if (message.type === "alert") {
    onAlert(message);
  } else if (message.type === "ack_sent") {
    onAckSent(message);
  } else if (message.type === "webhooks") {
    onWebhooks(message);
  } else if (message.type === "error") {
    page.lastError = String(message.message ?? "error");
    showNotice(`Gateway: ${page.lastError}`);
    onError();
    onQaError();
  }
}

const STATUS_TEXT = {
  connected: ["Live", "Connected: receiving live updates"],
  stale: ["Stale", `Connected, but nothing received for more than ${STALE_AFTER_MS / 1000} s`],
  disconnected: ["Reconnecting…", "Disconnected from the gateway; reconnecting"],
  refused: ["No access", "The gateway refused the connection (see the notice)"],
};

function setStatus(status) {
  page.status = status;
  const indicator = $("#connection");
  indicator.dataset.status = status;
  const [label, title] = STATUS_TEXT[status];
  $("#connection-label").textContent = label;
  indicator.title = title;
  document.body.classList.toggle("offline", status === "disconnected" || status === "refused");
  document.body.classList.toggle("stale", status === "stale");
}

let noticeTimer = 0;
function showNotice(text, persistent = false) {
  const notice = $("#notice");
  notice.textContent = text;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  if (!persistent) noticeTimer = setTimeout(() => { notice.hidden = true; }, NOTICE_MS);
}

// --- views and help ----------------------------------------------------------------------

function showView() {
  const wanted = window.location.hash.replace(/^#/, "");
  page.shown = VIEWS.includes(wanted) ? wanted : "wallboard";
  document.body.dataset.view = page.shown;
  for (const view of VIEWS) $(`#view-${view}`).hidden = view !== page.shown;
  for (const tab of document.querySelectorAll("[data-view-tab]")) {
    if (tab.dataset.viewTab === page.shown) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (page.view) render();
  if (page.shown === "qa") renderQa();
}

function toggleHelp(open = $("#help").hidden) {
  $("#help").hidden = !open;
  $("#help-toggle").setAttribute("aria-expanded", String(open));
  document.body.classList.toggle("help-open", open);
  if (open) renderHelp();
}

function buildDefinitions() {
  const sections = GROUPS.map(([group, heading]) => {
    const section = document.createElement("section");
    section.className = "help-section";
    const title = document.createElement("h3");
    title.textContent = heading;
    const list = document.createElement("dl");
    list.className = "help-list";
    for (const [name, definition] of Object.entries(DEFINITIONS)) {
      if (definition.group !== group) continue;
      list.append(definitionItem(
        definition.long ? `${definition.label} (${definition.long})` : definition.label,
        definition.text.charAt(0).toUpperCase() + definition.text.slice(1),
        { definition: name }));
    }
    section.append(title, list);
    return section;
  });
  const periods = document.createElement("p");
  periods.className = "help-note";
  periods.textContent = `Periods: the tiles show ${PERIODS.today}; the interval view shows `
    + `${PERIODS.interval} per row; waiting, longest wait and agents by state are ${PERIODS.now}.`;
  $("#help-definitions").replaceChildren(...sections, periods);
}

function definitionItem(term, text, data) {
  const item = document.createElement("div");
  Object.assign(item.dataset, data);
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = text;
  item.append(dt, dd);
  return item;
}

/** The per-queue service-level formulas in the help panel (rebuilt when they change). */
function renderHelp() {
  if ($("#help").hidden || !page.view) return;
  const names = [...page.view.queues.keys()].sort((a, b) => a.localeCompare(b));
  const lines = names.map((name) => {
    const entry = page.view.queues.get(name);
    return [name, slFormula(entry), slTargetText(entry)];
  });
  const key = JSON.stringify(lines);
  if (key === page.helpKey) return;
  page.helpKey = key;
  $("#help-queues").replaceChildren(...lines.map(([name, formula, target]) => (
    definitionItem(name, target ? `${formula}. ${target}.` : `${formula}.`,
      { queueDefinition: name }))));
}

// --- rendering ---------------------------------------------------------------------------

function render() {
  const { scalars, queues, agents, teams } = page.view;
  const tenant = typeof scalars.tenant === "string" ? scalars.tenant : "";
  setText($("#tenant"), tenant);
  document.title = tenant ? `floorpulse · ${tenant}` : "floorpulse wallboard";
  setText($("#dead-letters"), formatCount(scalars.dead_letters));

  if (page.shown === "wallboard") {
    const queueNames = [...queues.keys()].sort((a, b) => a.localeCompare(b));
    $("#no-queues").hidden = queueNames.length > 0;
    reconcile($("#queues"), page.tiles, queueNames, createTile, (name, tile) => {
      updateTile(tile, queues.get(name));
    });
    const teamNames = [...teams.keys()].sort((a, b) => a.localeCompare(b));
    reconcile($("#teams"), page.teams, teamNames, createTeam, (name, chip) => {
      updateTeam(chip, teams.get(name));
    });
    const agentIds = [...agents.keys()].sort((a, b) => compareAgents(agents.get(a),
      agents.get(b)) || a.localeCompare(b));
    reconcile($("#agents"), page.cards, agentIds, createCard, (id, card) => {
      updateCard(card, agents.get(id));
    });
    renderSummary(agents);
  } else if (page.shown === "wfm") {
    renderWfm(page.view, streamNow());
  } else if (page.shown === "intervals") {
    renderIntervals(page.view);
  }
  renderHelp();
  renderAlerts();
  tick();
}

function compareAgents(a, b) {
  const out = (agent) => (agent?.state === "logged_out" ? 1 : 0);
  return out(a) - out(b) || String(a?.name ?? "").localeCompare(String(b?.name ?? ""));
}

function setLevel(element, level) {
  element.classList.remove(...SL_CLASSES.filter((name) => name !== level));
  element.classList.add(level);
}

function createTile(name) {
  const root = fromTemplate("queue-tile");
  root.dataset.queue = name;
  applyDefinitions(root, "today");
  const tile = { root, fields: fieldsOf(root), entry: null };
  tile.fields.queue.textContent = name;
  return tile;
}

function updateTile(tile, entry) {
  tile.entry = entry;
  const { fields, root } = tile;
  const threshold = formatSeconds(entry.sl_threshold_s);
  setText(fields.target, isNumber(entry.sl_target)
    ? `target ${formatPercent(entry.sl_target)} in ${threshold}` : "");
  setText(fields.sl_variant, slVariant(entry).name);
  setText(fields.waiting, formatCount(entry.waiting));
  const level = serviceLevelClass(entry.service_level, entry.sl_target, entry.sl_amber);
  setLevel(root, level);
  setLevel(fields.service_level, level);
  setText(fields.service_level, formatPercent(entry.service_level));
  setTitle(root.querySelector("[data-title=service_level]"), slTooltip(entry, "today"));
  const fill = root.querySelector(".sl-fill");
  fill.style.width = `${isNumber(entry.service_level) ? Math.min(1, entry.service_level) * 100 : 0}%`;
  const mark = root.querySelector(".sl-target");
  mark.hidden = !isNumber(entry.sl_target);
  if (isNumber(entry.sl_target)) mark.style.left = `${entry.sl_target * 100}%`;

  setText(fields.offered, formatCount(entry.offered));
  setText(fields.answered, formatCount(entry.answered));
  setText(fields.abandoned, formatCount(entry.abandoned));
  const short = isNumber(entry.short_abandoned) && entry.short_abandoned > 0;
  setText(fields.short_abandoned, short ? `+${formatCount(entry.short_abandoned)} short` : "");
  setTitle(fields.short_abandoned, short ? `${describe("short_abandoned", "today")}\nS = `
    + `${formatSeconds(entry.short_abandon_s, "—")}` : "");
  setText(fields.abandon_rate, formatPercent(entry.abandon_rate));
  setText(fields.asa, formatDuration(entry.asa_s));
  setText(fields.aht, formatDuration(entry.aht_s));
  const parts = ahtParts(entry);
  setTitle(fields.aht_box, describe("aht", "today") + (parts ? `\n${parts}` : ""));
  setText(fields.handled, formatCount(entry.handled));
  const staff = entry.agents ?? {};
  for (const state of ["available", "on_contact", "acw", "aux"]) {
    setText(fields[state], formatCount(staff[state]));
  }
  updateRolling(tile, entry);
}

function updateRolling(tile, entry) {
  const { fields } = tile;
  const rolling = entry.rolling && typeof entry.rolling === "object" ? entry.rolling : null;
  fields.rolling.hidden = rolling === null;
  if (rolling === null) return;
  const minutes = isNumber(rolling.minutes) ? rolling.minutes : 30;
  setText(fields.rolling_label, `Last ${formatCount(minutes)} min`);
  setTitle(fields.rolling, describe("rolling").replace(/\bN\b/g, formatCount(minutes))
    + `\nOffered ${formatCount(rolling.offered)} · answered ${formatCount(rolling.answered)}`
    + ` · abandoned ${formatCount(rolling.abandoned)} · AHT ${formatDuration(rolling.aht_s)}`);
  setText(fields.rolling_service_level, formatPercent(rolling.service_level));
  setLevel(fields.rolling_service_level,
    serviceLevelClass(rolling.service_level, entry.sl_target, entry.sl_amber));
  setTitle(fields.rolling_sl_box, slFormula(entry));
  setText(fields.rolling_asa, formatDuration(rolling.asa_s));
  setText(fields.rolling_abandon_rate, formatPercent(rolling.abandon_rate));
}

function occupancyTitle(entry) {
  const lines = [describe("occupancy")];
  if (isNumber(entry?.busy_s) || isNumber(entry?.idle_s)) {
    lines.push(`Busy ${formatDuration(entry.busy_s)} · idle ${formatDuration(entry.idle_s)}`);
  }
  return lines.join("\n");
}

function createTeam(name) {
  const root = fromTemplate("team-chip");
  root.dataset.team = name;
  const chip = { root, fields: fieldsOf(root) };
  chip.fields.name.textContent = name;
  return chip;
}

function updateTeam(chip, entry) {
  const { fields } = chip;
  setText(fields.occupancy, formatPercent(entry?.occupancy));
  setTitle(fields.occupancy_box, occupancyTitle(entry));
  const ratio = isNumber(entry?.occupancy) ? Math.min(1, Math.max(0, entry.occupancy)) : 0;
  fields.occupancy_fill.style.width = `${ratio * 100}%`;
  const staff = entry?.agents ?? {};
  for (const state of ["available", "on_contact", "acw", "aux"]) {
    setText(fields[state], formatCount(staff[state] ?? 0));
  }
}

function createCard(id) {
  const root = fromTemplate("agent-card");
  root.dataset.agent = id;
  applyDefinitions(root);
  return { root, fields: fieldsOf(root), entry: null };
}

function updateCard(card, entry) {
  card.entry = entry;
  const { fields, root } = card;
  const state = AGENT_STATES.includes(entry.state) ? entry.state : "unknown";
  root.dataset.state = state;
  setText(fields.name, String(entry.name ?? root.dataset.agent));
  setText(fields.state, STATE_LABELS[state] ?? String(entry.state ?? EMPTY));
  setText(fields.reason, entry.reason ? String(entry.reason) : "");
  setText(fields.team, entry.team ? String(entry.team) : "");
  setText(fields.handled, formatCount(entry.handled));
  setText(fields.occupancy, formatPercent(entry.occupancy));
  fields.occupancy_box.hidden = !("occupancy" in entry);
  setTitle(fields.occupancy_box, occupancyTitle(entry));
}

function renderSummary(agents) {
  const counts = Object.fromEntries(AGENT_STATES.map((state) => [state, 0]));
  for (const agent of agents.values()) {
    if (agent?.state in counts) counts[agent.state] += 1;
  }
  const summary = $("#agent-summary");
  const parts = ["available", "on_contact", "acw", "aux"].map((state) => {
    const part = document.createElement("span");
    part.className = `summary-part state-${state}`;
    part.textContent = `${counts[state]} ${STATE_LABELS[state].toLowerCase()}`;
    return part;
  });
  summary.replaceChildren(...parts);
}

/** Advance everything that ticks: the clock, longest waits, time in state, staleness. */
function tick() {
  if (page.status === "connected" || page.status === "stale") {
    const quiet = performance.now() - page.lastMessageAt > STALE_AFTER_MS;
    const status = quiet ? "stale" : "connected";
    if (status !== page.status) setStatus(status);
  }
  if (!page.view) return;
  const now = streamNow();
  const clock = formatClock(now, page.view.scalars.timezone);
  setText($("#stream-time"), clock.time);
  setText($("#stream-date"), [clock.date, page.view.scalars.timezone].filter(Boolean).join(" · "));
  if (page.shown === "wfm") tickWfm(page.view, now);
  if (page.shown !== "wallboard") return;

  for (const tile of page.tiles.values()) {
    const entry = tile.entry;
    let wait = null;
    if (isNumber(entry.oldest_queued_epoch) && now !== null && entry.waiting > 0) {
      wait = Math.max(0, now - entry.oldest_queued_epoch);
    } else if (isNumber(entry.longest_wait_s)) {
      wait = entry.longest_wait_s;
    }
    setText(tile.fields.longest_wait, formatDuration(wait));
    const threshold = isNumber(entry.sl_threshold_s) ? entry.sl_threshold_s : 20;
    const element = tile.fields.longest_wait;
    element.classList.toggle("over", wait !== null && wait > threshold);
    element.classList.toggle("way-over", wait !== null && wait > 3 * threshold);
  }
  for (const card of page.cards.values()) {
    const since = card.entry.since_epoch;
    const seconds = isNumber(since) && now !== null ? Math.max(0, now - since) : null;
    setText(card.fields.time_in_state, formatDuration(seconds));
  }
}

function describeSubscription(subscribed = false) {
  const query = new URLSearchParams(window.location.search);
  const parts = [];
  for (const key of ["queues", "teams"]) {
    const value = query.get(key);
    if (value) parts.push(`${key}: ${value.split(",").join(", ")}`);
  }
  // the interval asked for, once the gateway took it (a snapshot came; else an error did)
  const interval = Number(query.get("interval_s")?.trim() || NaN);
  if (subscribed && Number.isFinite(interval)) parts.push(`updates every ${interval} s`);
  $("#subscription").textContent = parts.join(" · ");
}

function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "?") {
    toggleHelp();
  } else if (event.key === "Escape" && !$("#help").hidden) {
    toggleHelp(false);
  }
}

let resizeTimer = 0;
function onResize() {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => {
    if (page.view && page.shown === "intervals") renderIntervals(page.view, true);
    if (page.view && page.shown === "wfm") renderWfm(page.view, streamNow());
  }, 100);
}

applyDefinitions(document.querySelector(".topbar"));
buildDefinitions();
describeSubscription();
showView();
window.addEventListener("hashchange", showView);
window.addEventListener("keydown", onKey);
window.addEventListener("resize", onResize);
$("#help-toggle").addEventListener("click", () => toggleHelp());
$("#help-close").addEventListener("click", () => toggleHelp(false));
page.token = takeToken();
initAlerts(send, () => ({
  agents: page.view?.agents ?? new Map(),
  timezone: page.view?.scalars.timezone ?? "UTC",
}));
initQa(send, () => page.view?.scalars.timezone ?? "UTC");
setInterval(tick, TICK_MS);
connect();

// What every figure on the page means: one table, worded as docs/metrics.md. Tooltips
// (`title`) and the help panel are both generated from it. Pure: no DOM here.
import { formatDuration, formatPercent, formatSeconds, isNumber } from "./format.js";

/**
 * name -> {label, text, group}. `text` completes "<label> = …"; the period (today, an
 * interval, the rolling window) is added where the figure is shown.
 */
export const DEFINITIONS = {
  service_level: {
    group: "queue", label: "Service level",
    text: "the share of judged contacts served within the queue's threshold T, by the queue's "
      + "chosen variant (each queue's formula is listed below). Green at or above the target, "
      + "amber down to target − amber band, red below; — while nothing is judged",
  },
  judged: {
    group: "queue", label: "Judged",
    text: "contacts whose fate against T is known: answered, abandoned (not short), or waited "
      + "T seconds without either. A contact queued less than T ago and still waiting is not "
      + "yet judged, so one that just arrived does not pull the live service level down",
  },
  waiting: { group: "queue", label: "Waiting", text: "contacts in the queue now" },
  longest_wait: {
    group: "queue", label: "Longest wait",
    text: "stream time − the earliest queued time among contacts waiting now (0 when none)",
  },
  offered: {
    group: "queue", label: "Offered",
    text: "contacts queued in the period, minus short abandons",
  },
  answered: { group: "queue", label: "Answered", text: "offered contacts that were answered" },
  abandoned: {
    group: "queue", label: "Abandoned",
    text: "offered contacts abandoned and not answered (short abandons excluded)",
  },
  short_abandoned: {
    group: "queue", label: "Short abandons",
    text: "abandons that waited less than the queue's short-abandon threshold S: not offered, "
      + "not judged, not abandoned, counted only here",
  },
  abandon_rate: {
    group: "queue", label: "Abandon rate", text: "abandoned ÷ offered; — when nothing was offered",
  },
  asa: {
    group: "queue", label: "ASA", long: "average speed of answer",
    text: "total wait of answered contacts ÷ answered; — when none was answered",
  },
  handled: {
    group: "queue", label: "Handled",
    text: "answered contacts whose agent finished after-contact work (wrapped)",
  },
  aht: {
    group: "queue", label: "AHT", long: "average handle time",
    text: "(talk + hold + ACW) of handled contacts ÷ handled, where talk runs from the answer to "
      + "the end of the contact minus hold, and ACW (after-contact work) from the end to the wrap",
  },
  rolling: {
    group: "queue", label: "Last N min",
    text: "the same formulas over the contacts queued within the last N whole minutes of stream "
      + "time (by arrival, like intervals)",
  },
  available: {
    group: "queue", label: "Avail", text: "agents skilled for the queue who are available",
  },
  on_contact: {
    group: "queue", label: "On contact", text: "agents skilled for the queue who are on a contact",
  },
  acw: {
    group: "queue", label: "ACW",
    text: "agents skilled for the queue in after-contact work",
  },
  aux: {
    group: "queue", label: "Aux",
    text: "agents skilled for the queue in aux (break, lunch, meeting…)",
  },
  interval: {
    group: "interval", label: "Interval",
    text: "15 minutes in the center's time zone; a contact belongs to the interval in which it "
      + "was queued, and its answer, abandon or wrap updates that interval when it arrives",
  },
  peak_waiting: {
    group: "interval", label: "Peak waiting",
    text: "the most contacts of the queue waiting at once, sampled every 10 s of the interval",
  },
  status: {
    group: "interval", label: "Status",
    text: "open while events can still change the interval; closed once every partition's "
      + "stream time has passed its end + the allowed lateness: the figures are final",
  },
  occupancy: {
    group: "agent", label: "Occupancy",
    text: "busy ÷ (busy + idle), where busy is today's time on a contact or in ACW and idle "
      + "today's time available; — when both are 0",
  },
  time_in_state: {
    group: "agent", label: "Time in state", text: "stream time − the start of the current state",
  },
  agent_handled: {
    group: "agent", label: "Handled", text: "contacts the agent wrapped today (by wrap time)",
  },
  reason: { group: "agent", label: "Reason", text: "the aux code the agent gave" },
  stream_time: {
    group: "page", label: "Stream time",
    text: "the time of the latest event, in the center's time zone, advancing live between "
      + "updates; a replayed day shows that day as if it were live",
  },
  dead_letters: {
    group: "page", label: "Dead letters",
    text: "invalid or too-late events sent to the dead-letter topic (all tenants, since the "
      + "topic began)",
  },
};

export const GROUPS = [
  ["queue", "Queue figures"],
  ["interval", "Intervals"],
  ["agent", "Agents and teams"],
  ["page", "Page"],
];

export const PERIODS = {
  today: "today (contacts queued since the day start)",
  interval: "this 15-minute interval (contacts queued in it)",
  now: "now",
};

/** "Label (long) = text", with the period on a second line when given. */
export function describe(name, period = null) {
  const definition = DEFINITIONS[name];
  if (!definition) return "";
  const label = definition.long ? `${definition.label} (${definition.long})` : definition.label;
  const line = `${label} = ${definition.text}`;
  return period ? `${line}\nPeriod: ${PERIODS[period] ?? period}` : line;
}

/** The service-level variants of docs/metrics.md, with their formulas for a threshold text. */
export const SL_VARIANTS = {
  abandons_against: {
    name: "abandons against",
    formula: (t) => `answered within ${t} ÷ judged`,
  },
  abandons_ignored: {
    name: "abandons ignored",
    formula: (t) => `answered within ${t} ÷ (judged − abandoned within ${t})`,
  },
  abandons_for: {
    name: "abandons for",
    formula: (t) => `(answered within ${t} + abandoned within ${t}) ÷ judged`,
  },
  answered_only: {
    name: "answered only",
    formula: (t) => `answered within ${t} ÷ answered`,
  },
};
export const DEFAULT_SL_VARIANT = "abandons_against";

export function slVariant(entry) {
  const key = entry?.sl_definition in SL_VARIANTS ? entry.sl_definition : DEFAULT_SL_VARIANT;
  return { key, ...SL_VARIANTS[key] };
}

/**
 * The queue's service-level formula, e.g. "Service level (abandons ignored) = answered within
 * 30 s ÷ (judged − abandoned within 30 s); abandons under 5 s not counted".
 */
export function slFormula(entry) {
  const variant = slVariant(entry);
  const threshold = formatSeconds(entry?.sl_threshold_s);
  let text = `Service level (${variant.name}) = ${variant.formula(threshold)}`;
  if (isNumber(entry?.short_abandon_s) && entry.short_abandon_s > 0) {
    text += `; abandons under ${formatSeconds(entry.short_abandon_s)} not counted`;
  }
  return text;
}

/** The target sentence: "Target 80% in 20 s: green at or above, amber down to 70%, red below". */
export function slTargetText(entry) {
  if (!isNumber(entry?.sl_target)) return "";
  const amber = isNumber(entry.sl_amber) ? entry.sl_amber : entry.sl_target - 0.1;
  return `Target ${formatPercent(entry.sl_target)} in ${formatSeconds(entry.sl_threshold_s)}: `
    + `green at or above, amber down to ${formatPercent(amber)}, red below`;
}

/** The full service-level tooltip of a queue: formula, judged, target, period. */
export function slTooltip(entry, period = null) {
  const threshold = formatSeconds(entry?.sl_threshold_s);
  const lines = [
    slFormula(entry),
    `Judged = answered, abandoned (not short), or waited ${threshold} without either`,
  ];
  const target = slTargetText(entry);
  if (target) lines.push(target);
  if (period) lines.push(`Period: ${PERIODS[period] ?? period}`);
  return lines.join("\n");
}

/** All four variants side by side: "abandons against 80% · abandons ignored 85% · …". */
export function slVariantsText(levels, chosen) {
  if (!levels || typeof levels !== "object") return "";
  return Object.entries(SL_VARIANTS)
    .map(([key, variant]) => `${variant.name} ${formatPercent(levels[key])}${key === chosen ? " ◀" : ""}`)
    .join(" · ");
}

/** AHT with its parts: "talk 03:10 · hold 00:20 · ACW 00:45". */
export function ahtParts(entry) {
  const parts = [["talk", entry?.avg_talk_s], ["hold", entry?.avg_hold_s], ["ACW", entry?.avg_acw_s]];
  if (!parts.some(([, value]) => isNumber(value))) return "";
  return `Average ${parts.map(([name, value]) => `${name} ${formatDuration(value)}`).join(" · ")}`;
}

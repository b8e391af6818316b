// The guest page's brand and preflight: whose meeting this is (the business's
// name, logo and accent colour, the meeting's subject) and whether the link or
// invitation is good, learnt before the visitor types a name.
//
// Everything the server sends is written with textContent or as an attribute
// value (never as HTML); the colours are checked to be #rrggbb before use.
import { describeError, DEFAULT_BUSINESS } from "/sdk/frontdesk.js";
import { joinInfoUrl } from "/sdk/protocol.js";
import { $, formatDateTime } from "/static/js/ui.js";

const HEX = /^#[0-9a-f]{6}$/i;

// --- what the page says (plain English, one place per string) ------------------

/**
 * The end and preflight screens: a title that says what happened and a text
 * that says what to do next; `{business}` is the business. A reason not listed
 * gets the "unknown" title and the SDK's sentence for its code.
 */
export const END_SCREENS = Object.freeze({
  left: ["You left the meeting", "Thank you. You can close this page."],
  denied: ["You were not let in", "The host did not let you into this meeting. If you still need help, contact {business}."],
  removed: ["You were removed", "The host removed you from the meeting. If this was a mistake, contact {business}."],
  // ended while the visitor was in it (or waiting)
  meeting_ended: ["The meeting has ended", "The host ended the meeting for everyone. If you still need help, contact {business}."],
  // the link was opened after the end
  link_ended: ["This meeting has ended", "If you still need help, contact {business}."],
  link_invalid: ["This link is not valid", "Check the link you were sent or ask for a new one."],
  token_expired: ["Your invitation expired", "Ask {business} for a new link."],
  token_used: ["This invitation was already used", "Each invitation works once. Ask {business} for a new link."],
  lobby_timeout: ["Nobody let you in", "You waited in the lobby for too long. You can try to join again, or contact {business}."],
  connection_lost: ["Connection lost", "We could not reconnect you to the meeting. Check your internet connection and join again."],
  revoked: ["Your invitation was withdrawn", "This invitation can no longer be used. Ask {business} for a new link."],
  unknown: ["The meeting is over for you", null],
});

/** The codes that mean "this link or invitation leads nowhere". */
const INVALID = new Set(["meeting_not_found", "not_found", "token_invalid", "token_wrong_meeting", "unauthenticated"]);

/** The codes after which there is nothing to join: the end screen, not the form. */
export const FINAL = new Set([...INVALID, "meeting_ended", "token_expired", "token_used", "revoked"]);

// The screens' fixed words are in guest.html; these are the ones put together here.
export const WORDS = Object.freeze({
  withBusiness: "with {business}",
  untitled: "Your meeting with {business}",
  startsAt: "This meeting starts on {when}.",
});

export function say(text, business) {
  return String(text).replaceAll("{business}", business || DEFAULT_BUSINESS);
}

/**
 * [title, text] for how the session ended, or why it cannot start (`screen`:
 * a key of END_SCREENS when it is not the reason itself, e.g. "link_ended").
 */
export function endScreen(reason, business, screen) {
  const key = screen || (INVALID.has(reason) ? "link_invalid" : reason);
  const [title, text] = END_SCREENS[key] || END_SCREENS.unknown;
  return [title, say(text || describeError(reason, { business }), business)];
}

// --- the brand ------------------------------------------------------------------------

let current = { business: null, subject: "" };

/** The business the visitor should turn to (null before the preflight knows it). */
export function businessName() {
  return current.business;
}

function channel(hex, i) {
  return parseInt(hex.slice(i, i + 2), 16);
}

function luminance(hex) {
  const lin = (c) => { const v = c / 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin(channel(hex, 1)) + 0.7152 * lin(channel(hex, 3)) + 0.0722 * lin(channel(hex, 5));
}

function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

function mix(hex, toward, t) {
  const out = [1, 3, 5].map((i) => Math.round(channel(hex, i) * (1 - t) + channel(toward, i) * t));
  return `#${out.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

/** The accent darkened until it reads as text on white (links, focus rings): 4.5:1. */
function inkOnWhite(accent) {
  let ink = accent;
  for (let t = 0.1; contrast(ink, "#ffffff") < 4.5 && t <= 1; t += 0.1) ink = mix(accent, "#000000", t);
  return ink;
}

/**
 * Show the brand: the business's name and logo in the header, its accent on
 * buttons (with the text colour the server chose for contrast), and the subject.
 * CSS custom properties are set through the CSSOM, which the page's CSP allows.
 */
export function applyBrand(brand, subject) {
  const b = brand || {};
  const business = typeof b.display_name === "string" && b.display_name ? b.display_name : null;
  current = { business, subject: subject || "" };
  const name = $("#brand-name");
  name.textContent = business || "";
  const logo = $("#brand-logo");
  if (b.logo_url && /^https?:\/\//.test(b.logo_url)) {
    logo.src = b.logo_url;
    // The name is written beside the logo: the image adds nothing to read out.
    logo.alt = "";
    logo.hidden = false;
  } else {
    logo.hidden = true;
    logo.removeAttribute("src");
  }
  const root = document.documentElement.style;
  if (HEX.test(b.accent || "") && HEX.test(b.accent_text || "")) {
    const onWhite = b.accent_text.toLowerCase() === "#ffffff";
    root.setProperty("--accent", b.accent);
    root.setProperty("--accent-text", b.accent_text);
    // Hover moves away from the text colour, so the contrast only grows.
    root.setProperty("--accent-hover", mix(b.accent, onWhite ? "#000000" : "#ffffff", 0.15));
    root.setProperty("--accent-ink", inkOnWhite(b.accent));
  }
  for (const node of document.querySelectorAll("[data-subject]")) node.textContent = subjectLine();
  for (const node of document.querySelectorAll("[data-business]")) {
    node.textContent = business ? say(WORDS.withBusiness, business) : "";
    node.hidden = !business || !subject;
  }
  document.title = [subject, business].filter(Boolean).join(" · ") || document.title;
  document.body.dataset.branded = business ? "true" : "false";
}

/** The meeting's subject, or "Your meeting with {business}" when it has none. */
export function subjectLine() {
  return current.subject || say(WORDS.untitled, current.business);
}

// --- preflight -------------------------------------------------------------------------

async function problemOf(resp) {
  try {
    return await resp.json();
  } catch {
    return null;
  }
}

/**
 * What the link or invitation is, before joining: `{info}` (subject, state,
 * starts_at, brand) when it leads to a meeting, `{code, info?}` when it does not
 * (an ended meeting's info still names its business). A network failure gives
 * `{}`: the join will say what is wrong.
 */
export async function preflight({ token, discoveryUri }) {
  try {
    if (token && discoveryUri) {
      const resp = await fetch(discoveryUri, {
        headers: { Authorization: `Bearer ${token}` }, cache: "no-store", credentials: "omit",
      });
      const body = await problemOf(resp);
      if (resp.ok) return { info: body && body.meeting };
      return { code: (body && body.code) || "error", info: body && body.meeting };
    }
    let url;
    try {
      url = joinInfoUrl(location.href);
    } catch {
      return { code: "meeting_not_found" };
    }
    const resp = await fetch(url, { cache: "no-store", credentials: "omit" });
    const body = await problemOf(resp);
    if (resp.ok) return { info: body };
    return { code: (body && body.code) || "error" };
  } catch (err) {
    console.warn("preflight", err);
    return {};
  }
}

/** "This meeting starts on 3 Dec 2026, 14:00." */
export function startsText(startsAt) {
  return WORDS.startsAt.replace("{when}", formatDateTime(startsAt));
}

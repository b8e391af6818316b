/**
 * Ways into a meeting (like the Python SDK's `_join.py`): by join URL and display
 * name, by discovery URI and guest token, as a signed-in user; and the agent
 * login. URL shapes come from the generated protocol.js.
 */

import { FrontdeskError } from "./errors.js";
import { Meeting } from "./meeting.js";
import { rtcUrl, rtcUrlForJoinUrl } from "./protocol.js";

/** @returns {Promise<any>} the JSON body; rejects with FrontdeskError from problem+json. */
async function fetchJson(url, init) {
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (err) {
    throw new FrontdeskError("unavailable", `cannot reach ${url}: ${err && err.message}`);
  }
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  if (!resp.ok) {
    const code = (body && body.code) || (resp.status === 401 ? "unauthenticated" : "error");
    throw new FrontdeskError(code, (body && (body.detail || body.title)) || `HTTP ${resp.status}`, {
      status: resp.status,
    });
  }
  return body;
}

/**
 * Sign in an agent: POST {baseUrl}/v1/session.
 * @param {{baseUrl: string, username: string, password: string}} opts
 * @returns {Promise<{token: string, username: string, display_name: string, expires_at: string}>}
 */
export async function login({ baseUrl, username, password }) {
  return fetchJson(new URL("/v1/session", baseUrl).href, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password }),
    credentials: "same-origin",
  });
}

/**
 * Join with the join URL alone and a display name (the guest may wait in the lobby).
 * `media: false` makes a chat-only session (no peer connection is ever created).
 * @param {{joinUrl: string, displayName: string, media?: boolean}} opts
 * @returns {Promise<Meeting>}
 */
export async function join({ joinUrl, displayName, media = true }) {
  const m = new Meeting(rtcUrlForJoinUrl(joinUrl), [], { media });
  await m._open({ kind: "url", join_url: joinUrl, display_name: displayName });
  return m;
}

/**
 * Join with a guest token: GET the discovery URI (Bearer token), then the RTC URL it names.
 * `media: false` makes a chat-only session (no peer connection is ever created).
 * @param {{discoveryUri: string, token: string, media?: boolean}} opts
 * @returns {Promise<Meeting>}
 */
export async function joinWithToken({ discoveryUri, token, media = true }) {
  const disc = await fetchJson(discoveryUri, {
    headers: { Authorization: `Bearer ${token}` },
    credentials: "omit",
  });
  const m = new Meeting(disc.rtc_url, disc.ice_servers || [], { media });
  await m._open({ kind: "token", token });
  return m;
}

/**
 * Join a meeting as a signed-in user (organizer or agent).
 * @param {{baseUrl: string, meetingId: string, sessionToken: string, media?: boolean}} opts
 * @returns {Promise<Meeting>}
 */
export async function joinAsUser({ baseUrl, meetingId, sessionToken, media = true }) {
  const m = new Meeting(rtcUrl(baseUrl), [], { media });
  await m._open({ kind: "session", token: sessionToken, meeting_id: meetingId });
  return m;
}

/**
 * Ways into a meeting (like the Python SDK's `_join.py`): by join URL and display
 * name, by discovery URI and guest token, as a signed-in user; and the agent
 * login. URL shapes come from the generated protocol.js.
 *
 * Each also gives the meeting its "home": how to find the node hosting it when
 * the node the session was on is gone. For a token join that is discovery again,
 * and the cluster's public RTC URL once discovery refuses the guest token
 * (expired, or spent: a resume is authenticated by the resume token); for the
 * other two it is the public RTC URL, which routes to the hosting node.
 */

import { FrontdeskError } from "./errors.js";
import { Meeting } from "./meeting.js";
import { DISCOVERY_PATH, rtcUrl, rtcUrlForJoinUrl } from "./protocol.js";

/** How long finding the meeting's node again may take before the public URL is used. */
const REDISCOVER_MS = 5000;
const TAB_KEY = "frontdesk.tab";

/**
 * A random key this browser tab keeps (sessionStorage: it survives a reload, a
 * new tab gets its own). Passed as `clientKey` to `join` / `joinWithToken`, it
 * lets a reloaded page take back its own seat instead of appearing twice.
 * @returns {string}
 */
export function tabKey() {
  const fresh = () => {
    const bytes = new Uint8Array(18);
    globalThis.crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
  };
  try {
    const store = globalThis.sessionStorage;
    let key = store.getItem(TAB_KEY);
    if (!key || key.length < 16) {
      key = fresh();
      store.setItem(TAB_KEY, key);
    }
    return key;
  } catch {
    return fresh(); // no storage (a sandboxed frame): a key for this page only
  }
}

function withKey(auth, clientKey) {
  return clientKey ? { ...auth, client_key: String(clientKey) } : auth;
}

/**
 * The public RTC URL of the cluster that published `discoveryUri`:
 * `http(s)://host[/prefix]/v1/discovery/{id}` -> `ws(s)://host[/prefix]/v1/rtc`
 * (a URI of another shape: its origin's `/v1/rtc`).
 */
export function rtcUrlForDiscoveryUri(discoveryUri) {
  const page = globalThis.location && globalThis.location.href;
  const abs = new URL(String(discoveryUri), page || undefined);
  const head = abs.origin + abs.pathname;
  const at = head.lastIndexOf(DISCOVERY_PATH);
  return rtcUrl(at >= 0 ? head.slice(0, at) : abs.origin);
}

/**
 * Why a fetch failed without an answer. A page on another origin that the node
 * does not allow gets only "Failed to fetch" from the browser (CORS hides the
 * rest), so ask once more without CORS: when the node answers that, it is
 * reachable and refused this page's origin ("origin_refused"); else it cannot
 * be reached ("unavailable").
 * @returns {Promise<FrontdeskError>}
 */
export async function explainFetchFailure(url, err) {
  const here = globalThis.location;
  let target = null;
  try {
    target = new URL(String(url), here ? here.href : undefined).origin;
  } catch { /* not a URL: reported as unreachable */ }
  const page = here && here.origin;
  if (page && page !== "null" && target && target !== page) {
    try {
      await fetch(url, { mode: "no-cors", credentials: "omit", cache: "no-store" });
      return new FrontdeskError(
        "origin_refused",
        `the Frontdesk node at ${target} does not allow pages from ${page}: add this origin to ` +
          `the node's FRONTDESK_ALLOWED_ORIGINS (comma-separated origins, e.g. ` +
          `FRONTDESK_ALLOWED_ORIGINS=${page})`,
        { origin: page, node: target },
      );
    } catch { /* not reachable at all */ }
  }
  return new FrontdeskError("unavailable", `cannot reach ${url}: ${err && err.message}`);
}

/** @returns {Promise<any>} the JSON body; rejects with FrontdeskError from problem+json. */
async function fetchJson(url, init) {
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (err) {
    if (init && init.signal && init.signal.aborted) {
      throw new FrontdeskError("unavailable", `cannot reach ${url}: ${err && err.message}`);
    }
    throw await explainFetchFailure(url, err);
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
 * `clientKey` (e.g. `tabKey()`): the same key again replaces the session it left
 * behind (a reload), so the visitor is in everyone's roster once.
 * @param {{joinUrl: string, displayName: string, media?: boolean, clientKey?: string}} opts
 * @returns {Promise<Meeting>}
 */
export async function join({ joinUrl, displayName, media = true, clientKey = undefined }) {
  const url = rtcUrlForJoinUrl(joinUrl);
  const m = new Meeting(url, [], { media, home: async () => url });
  await m._open(withKey({ kind: "url", join_url: joinUrl, display_name: displayName }, clientKey));
  return m;
}

/**
 * Join with a guest token: GET the discovery URI (Bearer token), then the RTC URL it names.
 * `media: false` makes a chat-only session (no peer connection is ever created).
 * A second join with the same token replaces the first session (one person per token).
 * @param {{discoveryUri: string, token: string, media?: boolean, clientKey?: string}} opts
 * @returns {Promise<Meeting>}
 */
export async function joinWithToken({ discoveryUri, token, media = true, clientKey = undefined }) {
  const discover = (signal) =>
    fetchJson(discoveryUri, { headers: { Authorization: `Bearer ${token}` }, credentials: "omit", signal });
  const disc = await discover();
  const home = async () => {
    try {
      const timeout = globalThis.AbortSignal && AbortSignal.timeout ? AbortSignal.timeout(REDISCOVER_MS) : undefined;
      return (await discover(timeout)).rtc_url;
    } catch {
      return rtcUrlForDiscoveryUri(discoveryUri); // the guest token may be spent or expired by now
    }
  };
  const m = new Meeting(disc.rtc_url, disc.ice_servers || [], { media, home });
  await m._open(withKey({ kind: "token", token }, clientKey));
  return m;
}

/**
 * Join a meeting as a signed-in user (organizer or agent). `monitor: true` (a
 * supervisor only; others get FrontdeskError "forbidden") watches unseen by the
 * guests: chat-only, receiving whispers, until `meeting.barge()`.
 * @param {{baseUrl: string, meetingId: string, sessionToken: string, media?: boolean, monitor?: boolean}} opts
 * @returns {Promise<Meeting>}
 */
export async function joinAsUser({ baseUrl, meetingId, sessionToken, media = true, monitor = false }) {
  const url = rtcUrl(baseUrl);
  const m = new Meeting(url, [], { media: media && !monitor, home: async () => url });
  m._mediaAfterBarge = monitor && media !== false;
  const auth = { kind: "session", token: sessionToken, meeting_id: meetingId };
  if (monitor) auth.monitor = true;
  await m._open(auth);
  return m;
}

/**
 * The one error type of the browser SDK (like `frontdesk.errors` and the Python
 * SDK's `_errors.py`): every failure carries the server's stable `code`
 * (token_expired, forbidden, meeting_not_found, ...; protocol.js lists them in
 * ERROR_CODES), so pages branch on `err.code`, never on the message.
 *
 * `err.message` is for developers (what the server said, in its words);
 * `err.userMessage` (and `describeError(err, { business })`) is for the person
 * at the screen: a plain sentence that says what happened and what to do next.
 * Pages show that one. The sentences are kept here, once (GUEST_MESSAGES).
 *
 * "origin_refused": the page's web origin is not allowed, either by the node
 * (add it to FRONTDESK_ALLOWED_ORIGINS) or by the guest token (the back end
 * named other origins in its `origins`); the message says which.
 */

/** An error with the same stable `code` as the server's (token_expired, forbidden, ...). */
export class FrontdeskError extends Error {
  /** @param {string} code @param {string} [message] @param {object} [extra] */
  constructor(code, message, extra) {
    super(message || code);
    this.name = "FrontdeskError";
    this.code = code;
    if (extra) Object.assign(this, extra);
  }

  /** What to tell the person using the page (see describeError). */
  get userMessage() {
    return describeError(this);
  }
}

/** Who a visitor should turn to when no business name is known. */
export const DEFAULT_BUSINESS = "the business that invited you";

const INVALID_LINK = "This link is not valid. Check the link you were sent or ask for a new one.";
const TRY_AGAIN = "Something went wrong on our side. Reload the page and try again.";

/**
 * Every code a visitor can meet -> a plain sentence with a next step. `{business}`
 * stands for the business's name (the meeting's brand).
 */
export const GUEST_MESSAGES = Object.freeze({
  meeting_not_found: INVALID_LINK,
  not_found: INVALID_LINK,
  token_invalid: INVALID_LINK,
  token_wrong_meeting: INVALID_LINK,
  unauthenticated: INVALID_LINK,
  token_expired: "This invitation has expired. Ask {business} for a new link.",
  token_used: "This invitation has already been used. Ask {business} for a new link.",
  revoked: "This invitation can no longer be used. Ask {business} for a new link.",
  meeting_ended: "This meeting has ended. If you still need help, contact {business}.",
  forbidden: "This link alone does not let you in. Ask {business} for a personal invitation.",
  origin_refused: "This page cannot open the meeting. Please tell {business}.",
  csrf_refused: "This page cannot open the meeting. Please tell {business}.",
  denied: "The host did not let you in. If you still need help, contact {business}.",
  removed: "The host removed you from the meeting. If this was a mistake, contact {business}.",
  lobby_timeout: "You waited in the lobby for too long. You can try to join again, or contact {business}.",
  rate_limited: "There were too many attempts in a short time. Wait a minute, then try again.",
  limit_exceeded: "The meeting is full. Try again in a few minutes, or contact {business}.",
  validation_failed: "That name cannot be used. Type your name with ordinary letters and try again.",
  unavailable: "We cannot reach the meeting right now. Check your internet connection and try again.",
  wrong_node: "We cannot reach the meeting right now. Check your internet connection and try again.",
  connection_lost: "We could not reconnect you to the meeting. Check your internet connection and join again.",
  media_unavailable: "Your camera or microphone cannot be used. You can still join and chat.",
  protocol_error: TRY_AGAIN,
  unsupported_version: "This page is out of date. Reload the page and try again.",
  illegal_state: TRY_AGAIN,
  conflict: TRY_AGAIN,
  error: TRY_AGAIN,
});

/**
 * The plain sentence for an error (or a bare code), naming `business` where the
 * visitor should turn to someone. Unknown codes get the general sentence, never
 * the server's developer words.
 * @param {FrontdeskError | {code?: string} | string} err
 * @param {{business?: string}} [opts]
 */
export function describeError(err, { business } = {}) {
  const code = typeof err === "string" ? err : (err && err.code) || "error";
  const text = Object.prototype.hasOwnProperty.call(GUEST_MESSAGES, code) ? GUEST_MESSAGES[code] : TRY_AGAIN;
  return text.replaceAll("{business}", business || DEFAULT_BUSINESS);
}

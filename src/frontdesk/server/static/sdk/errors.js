/**
 * The one error type of the browser SDK (like `frontdesk.errors` and the Python
 * SDK's `_errors.py`): every failure carries the server's stable `code`
 * (token_expired, forbidden, meeting_not_found, ...; protocol.js lists them in
 * ERROR_CODES), so pages branch on `err.code`, never on the message.
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
}

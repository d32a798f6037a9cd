// The server's API: `GET /api/limits` and the live WebSocket `/api/models/live`, with the
// server's shared token when it has one.
//
// Protocol: the client sends ModelRequests as JSON text. The server numbers the requests it gets
// on one socket 1, 2, 3, … and tags every message with the number (`seq`) of the request it
// answers; a new request cancels the running one. So the client counts its own sends (from 0 on
// each new socket) and drops every message whose seq is not the latest.
//
// Beside requests, the models' socket takes control messages that are not numbered (issue 16):
// `{"type": "pause"}`, `{"type": "resume"}`, `{"type": "step", "steps": k}` (k steps, then
// pause) and `{"type": "speed", "steps_per_second": s}` (null: as fast as the device goes). Their
// answers carry the running request's seq; snapshots carry `"paused": true|false`. A request may
// say `"init_from": "current"`: train on from the weights of the socket's latest snapshot or
// result.

/**
 * The server's shared token, if it needs one (the setting `token`). A page opened as
 * `…?token=TOKEN` keeps it for this tab, so the links between pages need not carry it.
 * @param {Location} [loc]
 * @param {Storage} [storage]
 * @returns {string|null}
 */
export function apiToken(loc = window.location, storage = window.sessionStorage) {
  const given = new URLSearchParams(loc.search).get("token");
  if (given) storage.setItem("superposition-token", given);
  return storage.getItem("superposition-token");
}

/** The server wants its shared token and the page was not given it: nothing will work. */
export class TokenRequired extends Error {
  constructor() {
    super("This server needs its token: open the page as …/?token=TOKEN (ask whoever runs it).");
    this.name = "TokenRequired";
  }
}

/** A REST call the server refused (any status but 200 and 401), with its `detail`. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status
   * @param {any} detail the answer's `detail` (a string or pydantic's error list), if any
   * @param {string} message
   */
  constructor(status, detail, message) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

/**
 * Call the REST API with the server's token when it has one, and parse the JSON answer.
 * @param {string} path e.g. `/api/interference/bounds?n_features=5&n_hidden=2&l=3`
 * @param {RequestInit} [init] method, body, … (`Authorization` and `Accept` are added)
 * @returns {Promise<any>}
 * @throws {TokenRequired} on 401; {ApiError} on any other status but 2xx
 */
export async function fetchJson(path, init = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json", ...(/** @type {any} */ (init.headers) ?? {}) };
  if (init.body !== undefined && !headers["Content-Type"]) headers["Content-Type"] = "application/json";
  const token = apiToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...init, headers });
  if (response.status === 401) throw new TokenRequired();
  if (!response.ok) {
    let detail = null;
    try {
      detail = (await response.json()).detail ?? null;
    } catch {
      // not JSON: the status says enough
    }
    const method = init.method ?? "GET";
    throw new ApiError(response.status, detail, `${method} ${path.split("?")[0]} answered ${response.status}`);
  }
  return response.json();
}

/**
 * Fetch the server's limits (`GET /api/limits`).
 * @returns {Promise<Record<string, number>>}
 * @throws {TokenRequired} on 401; {ApiError} when the server does not answer 200 with JSON
 */
export function fetchLimits() {
  return fetchJson("/api/limits");
}

/**
 * The URL of a stored model's weights file (`GET /api/models/{id}/weights`, safetensors), with
 * the server's token as `?token=` when it has one: a link cannot send an Authorization header.
 * @param {string} modelId the model's id (64 hex digits)
 * @param {Location} [loc]
 * @returns {string}
 */
export function weightsUrl(modelId, loc = window.location) {
  const token = apiToken(loc);
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `/api/models/${encodeURIComponent(modelId)}/weights${query}`;
}

/**
 * The WebSocket URL of a live endpoint on this page's host (wss:// under https://).
 * @param {string} [path] the endpoint: `/api/models/live` or `/api/phase-diagrams/live`
 * @param {Location} [loc]
 * @returns {string}
 */
export function liveUrl(path = "/api/models/live", loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  const token = apiToken(loc);
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}//${loc.host}${path}${query}`;
}

/**
 * @typedef {object} LiveHandlers
 * @property {(message: object) => void} onMessage a snapshot, done or error answering the latest
 *   request
 * @property {(status: "connecting"|"open"|"closed") => void} [onStatus] the socket's state
 */

/**
 * A self-reconnecting client of `/api/models/live` that only passes on answers to the latest
 * request.
 */
export class LiveClient {
  /**
   * @param {LiveHandlers} handlers
   * @param {string} [url] defaults to {@link liveUrl}()
   */
  constructor(handlers, url = liveUrl()) {
    this.url = url;
    this.handlers = handlers;
    /** @type {WebSocket|null} */
    this.socket = null;
    /** Sends on the current socket; the seq of the latest request. */
    this.seq = 0;
    /** @type {object|null} the latest request */
    this.request = null;
    /** Whether the latest request still waits for its done or error. */
    this.pending = false;
    this.retryMs = 500;
    this.retryTimer = 0;
    this.closed = false;
    /** Whether this socket has sent a snapshot or result: `init_from: "current"` has weights. */
    this.hasModel = false;
    /** @type {Map<string, object>} control messages re-sent after every request (e.g. speed) */
    this.sticky = new Map();
  }

  /**
   * Open the socket (again). Called by the constructor's user once, then on every close.
   * @returns {void}
   */
  connect() {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    this.handlers.onStatus?.("connecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    this.seq = 0; // the server numbers the requests of each socket from 1
    this.hasModel = false; // a new socket has no "current" weights
    socket.addEventListener("open", () => {
      if (socket !== this.socket) return;
      this.retryMs = 500;
      this.handlers.onStatus?.("open");
      if (this.request && this.pending) this.transmit(this.request);
    });
    socket.addEventListener("message", (event) => {
      if (socket !== this.socket) return;
      this.receive(event.data);
    });
    socket.addEventListener("close", () => {
      if (socket !== this.socket || this.closed) return;
      this.socket = null;
      this.handlers.onStatus?.("closed");
      this.retryTimer = window.setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 5000);
    });
    // An "error" event is always followed by "close", which schedules the retry.
  }

  /**
   * Ask for a model. It is sent now if the socket is open, else as soon as it opens; either way
   * it supersedes every earlier request.
   * @param {object} request a ModelRequest
   * @returns {void}
   */
  send(request) {
    this.request = request;
    this.pending = true;
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.transmit(request);
    else if (!this.socket) this.connect();
  }

  /**
   * Send a control message (pause, resume, step, speed) on the open socket. It is not a request:
   * it is not numbered and cancels nothing.
   * @param {{type: string}} message
   * @param {object} [options]
   * @param {boolean} [options.sticky] also send it again after every later request and on every
   *   new socket (a setting of the socket such as the speed), keyed by its type
   * @returns {boolean} whether it went out now
   */
  control(message, { sticky = false } = {}) {
    if (sticky) this.sticky.set(message.type, message);
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  /**
   * Stop for good: close the socket and never reconnect.
   * @returns {void}
   */
  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket?.close();
    this.socket = null;
  }

  /**
   * Send on the open socket, counting the send (the server numbers it the same way).
   * @param {object} request
   * @returns {void}
   */
  transmit(request) {
    this.seq += 1;
    const socket = /** @type {WebSocket} */ (this.socket);
    socket.send(JSON.stringify(request));
    for (const message of this.sticky.values()) socket.send(JSON.stringify(message));
  }

  /**
   * Pass on a message from the server if it answers the latest request; drop it otherwise.
   * @param {string} text the frame's JSON
   * @returns {void}
   */
  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      this.handlers.onMessage({ type: "error", seq: this.seq, detail: "unreadable message" });
      return;
    }
    if (!message || message.seq !== this.seq) return; // answers an older request: stale
    if (message.type === "done" || message.type === "error") this.pending = false;
    if (message.type === "done" || message.type === "snapshot") this.hasModel = true;
    this.handlers.onMessage(message);
  }
}

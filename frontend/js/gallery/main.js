// The gallery page: one card per preset (GET /api/presets); the URL hash ⇄ the open preset and
// its changed controls; the preset's cached results (GET /api/models/{id}), or live training over
// one socket per request, → its view (views.js) and the instance opened from it.

import { renderClaims } from "./claims.js";
import { ApiError, LiveClient, fetchJson } from "../api.js";
import { appendButton, byId } from "../dom.js";
import { formatNumber } from "../format.js";
import { renderGram } from "../plots/gram.js";
import { renderNorms } from "../plots/norms.js";
import { createPage, fieldControls, loadServerConfig, startPage } from "../page.js";
import { failureText, formatDetail, setProgress, showError } from "../status.js";
import { probabilityLabel, purgePlots, requestLabel } from "./common.js";
import {
  CONTROL_PROPS,
  GALLERY_FIELDS,
  effectiveRequests,
  normaliseGallery,
  overridesOf,
  presetValues,
} from "./state.js";
import { VIEWS, VIEW_KINDS } from "./views.js";
import { gramOf } from "./weights.js";

/** @typedef {import("./views.js").ViewResult} ViewResult */

/** Quiet time after the last control change before the request goes out, in ms. */
const DEBOUNCE_MS = 300;

/** The page's fixed elements. */
const dom = {
  error: byId("error"),
  cards: byId("cards"),
  detail: byId("detail"),
  title: byId("detail-title"),
  section: /** @type {HTMLAnchorElement} */ (byId("detail-section")),
  text: byId("detail-text"),
  controls: byId("detail-controls"),
  progress: byId("detail-progress"),
  detailError: byId("detail-error"),
  instance: byId("instance"),
  instanceTitle: byId("instance-title"),
  instanceStats: byId("instance-stats"),
  instanceGram: byId("instance-gram"),
  instanceNorms: byId("instance-norms"),
};

/**
 * A fresh, empty #view: every view builds its plots from scratch in it (no stale skeleton keys).
 * @param {string} source what the results come from: "cache", "live", "missing", "error" or ""
 * @returns {HTMLElement}
 */
function freshView(source) {
  const old = byId("view");
  purgePlots(old);
  const view = document.createElement("div");
  view.id = "view";
  view.className = "view";
  view.dataset.source = source;
  old.replaceWith(view);
  return view;
}

/**
 * A short message in the view (with an optional button).
 * @param {string} source
 * @param {string} text
 * @param {{label: string, onClick: () => void}} [action]
 * @returns {void}
 */
function viewMessage(source, text, action) {
  const view = freshView(source);
  const p = document.createElement("p");
  p.className = "view-message";
  p.textContent = text;
  if (action) appendButton(p, { id: "train-missing", className: "reset retrain", text: action.label, onClick: action.onClick });
  view.append(p);
}

/** The open preset: its results, live clients, progress rows and view. */
class OpenPreset {
  /**
   * @param {Record<string, any>} preset a PresetInfo
   */
  constructor(preset) {
    this.preset = preset;
    /** @type {Array<Record<string, any>>} the requests with the overrides applied */
    this.requests = effectiveRequests(preset, {});
    /** @type {Array<ViewResult|null>} */
    this.results = this.requests.map(() => null);
    /** @type {boolean[]} which results are final (cached, or their `done` came) */
    this.final = this.requests.map(() => false);
    /** @type {LiveClient[]} */
    this.clients = [];
    /** @type {{r: number, k: number}|null} the instance shown under the view */
    this.opened = null;
    this.generation = 0; // bumped by every load or training: late answers of older ones are dropped
    this.frame = 0;
    this.drawing = false;
    this.redraw = false;
    this.closed = false;
    /** @type {HTMLElement[]} */
    this.rows = this.requests.map((request, i) => {
      const row = document.createElement("div");
      row.className = "progress";
      row.id = `progress-${i}`;
      row.setAttribute("role", "progressbar");
      row.setAttribute("aria-valuemin", "0");
      row.setAttribute("aria-valuemax", "100");
      row.innerHTML =
        '<span class="progress-label"></span><span class="progress-text"></span>' +
        '<div class="progress-bar"><div class="progress-fill"></div></div>';
      return row;
    });
    this.labelRows();
    dom.progress.replaceChildren(...this.rows);
  }

  /** Label each progress row with its request (n → m, how many models). */
  labelRows() {
    this.requests.forEach((request, i) => {
      const count = Array.isArray(request.feature_probability) ? request.feature_probability.length : 1;
      /** @type {HTMLElement} */ (this.rows[i].querySelector(".progress-label")).textContent =
        `${requestLabel(request)}: ${request.n_features} → ${request.n_hidden ?? 2}, ` +
        `${count} model${count > 1 ? "s" : ""}`;
    });
  }

  /**
   * Mark the panel's state for tests and styles: loading, training, drawn, missing or error.
   * @param {string} state
   * @returns {void}
   */
  setState(state) {
    dom.detail.dataset.state = state;
  }

  /**
   * Show the results for these overrides: the cached ones when there are none, else live.
   * @param {Record<string, number>} overrides
   * @returns {void}
   */
  start(overrides) {
    this.requests = effectiveRequests(this.preset, overrides);
    this.labelRows();
    if (Object.keys(overrides).length === 0) this.loadCached();
    else this.train(false);
  }

  /** Stop the live clients (the server cancels their training). */
  stopLive() {
    for (const client of this.clients) client.close();
    this.clients = [];
  }

  /**
   * Open the preset's shipped results: GET /api/models/{id} for every request.
   * @returns {Promise<void>}
   */
  async loadCached() {
    this.stopLive();
    const generation = ++this.generation;
    showError(dom.detailError, "");
    if (this.requests.length === 0) {
      this.results = []; // the view fetches what it draws (a diagram, a sweep)
      this.setState("loading");
      this.scheduleDraw();
      return;
    }
    this.setState("loading");
    this.rows.forEach((row) => setProgress(row, "queued", { text: "loading from the cache…" }));
    const answers = await Promise.allSettled(
      this.preset.model_ids.map((id, i) =>
        this.preset.cached?.[i] === false
          ? Promise.reject(new ApiError(404, "not cached", "not in the server's cache"))
          : fetchJson(`/api/models/${id}?gram=false`),
      ),
    );
    if (this.closed || generation !== this.generation) return;
    let missing = 0;
    let failure = "";
    answers.forEach((answer, i) => {
      if (answer.status === "fulfilled") {
        const result = answer.value;
        this.results[i] = result;
        this.final[i] = true;
        const steps = result.request?.steps ?? 0;
        const secs = Number(result.train_seconds ?? 0).toFixed(1);
        setProgress(this.rows[i], "cached", {
          step: steps,
          steps,
          text: `cached · ${steps} steps, trained in ${secs} s on ${result.device}`,
        });
      } else if (answer.reason instanceof ApiError && answer.reason.status === 404) {
        missing += 1;
        this.results[i] = null;
        setProgress(this.rows[i], /** @type {any} */ ("missing"), { text: "not trained yet" });
      } else {
        failure = failureText(answer.reason);
        this.results[i] = null;
        setProgress(this.rows[i], "error", { text: "error" });
      }
    });
    if (failure) {
      viewMessage("error", `Could not load the cached result: ${failure}`);
      this.setState("error");
    } else if (missing) {
      viewMessage(
        "missing",
        `Not trained yet: ${missing === 1 && this.requests.length === 1 ? "this preset's result is" : `${missing} of its results are`} ` +
          "not in the server's cache (python -m server.precompute --all ships them). Train it here, live:",
        { label: "Train live", onClick: () => this.train(false) },
      );
      this.setState("missing");
    } else {
      freshView("cache");
      this.scheduleDraw();
    }
  }

  /**
   * Train every request over its own live socket (`retrain`: even if cached).
   * @param {boolean} retrain
   * @returns {void}
   */
  train(retrain) {
    if (this.requests.length === 0) return;
    ++this.generation;
    showError(dom.detailError, "");
    this.setState("training");
    const view = byId("view");
    if (view.dataset.source !== "live") {
      if (this.results.every((r) => r !== null)) view.dataset.source = "live";
      else viewMessage("live", "Training live… the view draws at the first snapshot of every request.");
    }
    while (this.clients.length < this.requests.length) {
      const i = this.clients.length;
      this.clients.push(
        new LiveClient({
          onMessage: (message) => this.onMessage(i, message),
          onStatus: (status) => {
            if (status === "closed" && !this.closed) setProgress(this.rows[i], "offline", { text: "offline: reconnecting…" });
          },
        }),
      );
    }
    this.requests.forEach((request, i) => {
      this.final[i] = false;
      // gram: false — the server leaves WᵀW out (weights.js computes it where it is drawn)
      this.clients[i].send({ ...request, gram: false, ...(retrain ? { retrain: true } : {}) });
      setProgress(this.rows[i], "queued", { steps: request.steps, text: "starting…" });
    });
  }

  /**
   * A live message for request i.
   * @param {number} i
   * @param {any} message
   * @returns {void}
   */
  onMessage(i, message) {
    if (this.closed) return;
    if (message.type === "snapshot") {
      this.results[i] = { request: this.requests[i], instances: message.instances };
      setProgress(this.rows[i], "training", { step: message.step, steps: message.steps });
      this.scheduleDraw();
    } else if (message.type === "done") {
      const result = message.result;
      this.results[i] = result;
      this.final[i] = true;
      const steps = result.request?.steps ?? 0;
      const secs = Number(result.train_seconds ?? 0).toFixed(1);
      setProgress(this.rows[i], result.cached ? "cached" : "done", {
        step: steps,
        steps,
        text: result.cached ? `cached · ${steps} steps, trained earlier` : `done · ${steps} steps in ${secs} s on ${result.device}`,
      });
      this.scheduleDraw();
    } else if (message.type === "error") {
      setProgress(this.rows[i], "error", { text: "refused" });
      showError(dom.detailError, `${requestLabel(this.requests[i])}: the server refused this request: ${formatDetail(message.detail)}`);
      this.setState("error");
    }
  }

  /** Draw at the next animation frame (many snapshots, one draw). */
  scheduleDraw() {
    if (!this.frame) this.frame = window.requestAnimationFrame(() => this.draw());
  }

  /**
   * Draw the view with the results so far, and the opened instance.
   * @returns {Promise<void>}
   */
  async draw() {
    this.frame = 0;
    if (this.closed) return;
    if (this.drawing) {
      this.redraw = true;
      return;
    }
    if (this.results.some((r) => r === null)) return; // a request has no weights yet
    this.drawing = true;
    try {
      const render = VIEWS[this.preset.view];
      if (!render) throw new Error(`this page has no view named “${this.preset.view}”`);
      let view = byId("view");
      if (view.querySelector(".view-message")) view = freshView(view.dataset.source ?? "");
      await render(view, {
        preset: this.preset,
        results: /** @type {ViewResult[]} */ (this.results),
        openInstance: (r, k) => this.openInstance(r, k),
        fetchJson,
      });
      this.drawInstance();
      if (!this.closed && this.final.every(Boolean) && dom.detail.dataset.state !== "error") this.setState("drawn");
    } catch (err) {
      showError(dom.detailError, `Could not draw this view: ${failureText(err)}`);
      this.setState("error");
    } finally {
      this.drawing = false;
    }
    if (this.redraw) {
      this.redraw = false;
      this.scheduleDraw();
    }
  }

  /**
   * Show instance k of request r under the view.
   * @param {number} r
   * @param {number} k
   * @returns {void}
   */
  openInstance(r, k) {
    this.opened = { r, k };
    this.drawInstance();
    dom.instance.scrollIntoView({ block: "nearest" });
  }

  /** Draw the opened instance (again), or hide the block. */
  drawInstance() {
    const { r, k } = this.opened ?? { r: -1, k: -1 };
    const result = this.results[r];
    const inst = result?.instances?.[k];
    if (!result || !inst) {
      dom.instance.hidden = true;
      return;
    }
    dom.instance.hidden = false;
    dom.instance.dataset.request = String(r);
    dom.instance.dataset.instance = String(k);
    dom.instanceTitle.textContent = `${requestLabel(result.request)}, 1−S = ${probabilityLabel(inst.feature_probability)}`;
    const frob = inst.frobenius_squared; // the server's ‖W‖²_F
    const represented = inst.feature_norms.filter((v) => v > 0.5).length;
    dom.instanceStats.textContent =
      `loss ${formatNumber(inst.loss, 4)} · D* = ${formatNumber(inst.dimensions_per_feature)} · ` +
      `‖W‖²_F = ${formatNumber(frob)} · ‖Wᵢ‖ > 0.5: ${represented} / ${inst.feature_norms.length}`;
    renderGram(dom.instanceGram, gramOf(inst));
    renderNorms(dom.instanceNorms, inst);
  }

  /** Leave: stop training and drop late answers. */
  close() {
    this.closed = true;
    this.generation += 1;
    this.stopLive();
    if (this.frame) window.cancelAnimationFrame(this.frame);
    dom.instance.hidden = true;
  }
}

/**
 * Build the cards, one link per preset.
 * @param {Array<Record<string, any>>} presets
 * @returns {void}
 */
function buildCards(presets) {
  dom.cards.replaceChildren(
    ...presets.map((preset) => {
      const card = document.createElement("a");
      card.className = "card";
      card.href = `#preset=${encodeURIComponent(preset.id)}`;
      card.dataset.preset = preset.id;
      for (const [cls, text] of [
        ["card-title", preset.title],
        ["card-section", preset.section],
        ["card-kind", VIEW_KINDS[preset.view] ?? preset.view],
      ]) {
        const span = document.createElement("span");
        span.className = cls;
        span.textContent = text;
        card.append(span);
      }
      return card;
    }),
  );
  dom.cards.dataset.state = "ready";
}

/**
 * Build a preset's controls (only those it offers) and its Retrain and Reset buttons.
 * @param {Record<string, any>} preset
 * @param {Record<string, number>} limits
 * @param {Record<string, number>} own the preset's own values (`presetValues`)
 * @param {{onChange: (patch: Record<string, unknown>) => void, onRetrain: () => void,
 *   onReset: () => void}} handlers
 * @returns {(state: Record<string, any>) => void} show a state in the controls
 */
function buildControls(preset, limits, own, handlers) {
  dom.controls.replaceChildren();
  const specs = CONTROL_PROPS.filter((prop) => prop.name in own).map((prop) => ({ name: prop.name, label: prop.label }));
  // Out of range: the limit beside the field and nothing trains (page.js), never a silent clamp;
  // a usable value trains after DEBOUNCE_MS without a keystroke.
  const show = fieldControls(dom.controls, GALLERY_FIELDS, specs, limits, handlers.onChange, {
    quietMs: DEBOUNCE_MS,
    idPrefix: "ctl-",
  });
  if (preset.requests.length > 0) {
    const buttons = document.createElement("div");
    buttons.className = "buttons";
    appendButton(buttons, { id: "retrain", className: "reset retrain", text: "Retrain live", onClick: handlers.onRetrain });
    appendButton(buttons, { id: "reset", className: "reset", text: "Reset", onClick: handlers.onReset });
    dom.controls.append(buttons);
  }
  return (state) => show(state, own);
}

/**
 * Start the page.
 * @returns {Promise<void>}
 */
export async function main() {
  const config = await loadServerConfig(dom.error);
  if (config === null) {
    // Every request would be refused: the banner says why.
    dom.cards.dataset.state = "error";
    dom.cards.replaceChildren();
    return;
  }
  const { limits } = config;
  const requestDefaults = config.defaults.ModelRequest;
  /** @type {Array<Record<string, any>>} */
  let presets;
  try {
    presets = await fetchJson("/api/presets");
  } catch (err) {
    dom.cards.dataset.state = "error";
    dom.cards.replaceChildren();
    showError(dom.error, `Could not load the presets: ${failureText(err)}`);
    return;
  }
  buildCards(presets);

  // The id the URL asks for: page.js drops an unknown one, and the banner names it. Listening
  // before the controller does, this reads a pasted hash first.
  let asked = "";
  const readAsked = () => {
    asked = new URLSearchParams(window.location.hash.replace(/^#/, "")).get("preset") ?? "";
  };
  readAsked();
  window.addEventListener("hashchange", readAsked);

  /** @type {OpenPreset|null} */
  let open = null;
  /** @type {(state: Record<string, any>) => void} */
  let showControls = () => {};

  /** Open (or close) the state's preset: its panel and controls; its results come with the run. */
  const openPreset = (/** @type {Record<string, any>} */ state) => {
    open?.close();
    open = null;
    const preset = presets.find((p) => p.id === state.preset);
    if (asked && !preset) showError(dom.error, `There is no preset “${asked}”; pick a card.`);
    else if (dom.error.textContent?.startsWith("There is no preset")) showError(dom.error, "");
    for (const card of dom.cards.querySelectorAll(".card")) {
      card.setAttribute("aria-current", String(/** @type {HTMLElement} */ (card).dataset.preset === preset?.id));
    }
    if (!preset) {
      dom.detail.hidden = true;
      dom.detail.dataset.state = "closed";
      dom.detail.dataset.preset = "";
      return;
    }
    open = new OpenPreset(preset);
    open.setState("loading"); // until the run (after the debounce) loads or trains it
    freshView("");
    dom.detail.hidden = false;
    dom.detail.dataset.preset = preset.id;
    dom.title.textContent = preset.title;
    dom.section.textContent = preset.section;
    dom.section.href = preset.section_url;
    dom.text.textContent = preset.text;
    renderClaims(dom.text, preset.claims);
    showError(dom.detailError, "");
    showControls = buildControls(preset, limits, presetValues(preset, requestDefaults), {
      onChange: (patch) => page.change(patch),
      onRetrain: () => {
        if (page.pending()) page.runNow(); // the controls' latest values first
        open?.train(true);
      },
      onReset: () => {
        const before = page.requestKey();
        page.change(Object.fromEntries(CONTROL_PROPS.map((prop) => [prop.name, ""])));
        if (page.requestKey() === before) {
          showControls(page.state);
          open?.loadCached(); // a retrained view goes back to the shipped result
        }
      },
    });
    showControls(state);
    dom.detail.scrollIntoView({ block: "start" });
  };

  // The shared page controller: the URL hash ⇄ state (the preset and its changed controls),
  // the limits, the debounce (a control's change trains after it), stale runs dropped.
  const page = createPage({
    fields: GALLERY_FIELDS,
    limits,
    debounceMs: DEBOUNCE_MS,
    normalise: (state) => normaliseGallery(state, presets, requestDefaults),
    onShow: (state, changed) => {
      if (changed.includes("preset")) openPreset(state);
      else showControls(state);
    },
    onRun: (state) => open?.start(overridesOf(state)),
  });
  openPreset(page.state);
  if (open) page.runNow();
}

startPage(main, "The gallery");

// The gallery's "sae" view: a shipped SAE (GET /api/saes/{sae_id}) drawn with the SAE page's
// panels, a link that opens it on the SAE page, and "Retrain live", which trains it again over
// WS /api/saes/live (the models' live protocol) and redraws at every snapshot.

import { ApiError, LiveClient, liveUrl } from "../../api.js";
import { appendButton } from "../../dom.js";
import { buildSaePanels, resampledBetween, showTraining, throttledDraw } from "../../sae/panels.js";
import { saePageUrl } from "../../sae/state.js";
import { failureText, formatDetail, setProgress } from "../../status.js";

/** @typedef {import("../views.js").ViewContext} ViewContext */

/** How long a resampled latent stays highlighted while retraining, in ms. */
const FLASH_MS = 1500;

/**
 * Fill `container` once per preset: the shipped SAE, then live snapshots if retrained.
 * @param {HTMLElement} container
 * @param {ViewContext} ctx
 * @returns {Promise<void>}
 */
export async function renderSae(container, ctx) {
  const { preset } = ctx;
  if (container.dataset.saePreset === preset.id) return;
  container.dataset.saePreset = preset.id;
  container.dataset.source = "loading";

  const bar = document.createElement("div");
  bar.className = "status sae-bar";
  const progress = document.createElement("div");
  progress.className = "progress";
  progress.id = "sae-progress";
  progress.setAttribute("role", "progressbar");
  progress.innerHTML = '<span class="progress-text"></span><div class="progress-bar"><div class="progress-fill"></div></div>';
  bar.append(progress);
  const body = document.createElement("div");
  body.className = "sae";
  const message = document.createElement("p");
  message.className = "note";
  const pageUrl = preset.sae ? saePageUrl(preset.sae) : null;
  const panels = buildSaePanels(body, { prefix: "gallery-sae-", headingTag: "h3" });
  container.replaceChildren(bar, message, body);

  /** @type {LiveClient|null} */
  let client = null;
  let lastStep = 0;
  /** @type {Map<number, number>} */
  const flashes = new Map();
  let flashTimer = 0;
  /** @type {any} */
  let shown = null;
  const draw = () => {
    if (!shown) return;
    const now = performance.now();
    for (const [j, until] of flashes) if (until <= now) flashes.delete(j);
    panels.draw(shown, new Set(flashes.keys()));
    window.clearTimeout(flashTimer);
    if (flashes.size) flashTimer = window.setTimeout(scheduleDraw, Math.max(Math.min(...flashes.values()) - now, 16));
  };
  const scheduleDraw = throttledDraw(draw);
  const done = (result, source) => {
    const steps = result.request?.steps ?? result.step;
    const secs = Number(result.train_seconds ?? 0).toFixed(1);
    setProgress(progress, result.cached ? "cached" : "done", {
      step: steps,
      steps,
      text: result.cached ? `cached · ${steps} steps, trained in ${secs} s on ${result.device}` : `done · ${steps} steps in ${secs} s on ${result.device}`,
    });
    shown = result;
    container.dataset.source = source;
    draw();
  };
  // Another preset opened: the gallery replaced this container; stop training.
  const gone = () => {
    if (container.isConnected && container.dataset.saePreset === preset.id) return false;
    client?.close();
    client = null;
    return true;
  };

  if (preset.sae) {
    const retrain = appendButton(bar, {
      id: "sae-retrain",
      className: "reset retrain",
      text: "Retrain live",
      onClick: () => {
        if (gone()) return;
        if (!client) {
          client = new LiveClient(
            {
              onMessage: (msg) => {
                if (gone()) return;
                if (msg.type === "snapshot") {
                  showTraining(progress, msg);
                  if (!msg.sae) return; // the toy model trains first
                  for (const j of resampledBetween(msg.sae.resampled, lastStep, msg.sae.step)) flashes.set(j, performance.now() + FLASH_MS);
                  lastStep = msg.sae.step;
                  shown = msg.sae;
                  container.dataset.source = "live";
                  scheduleDraw();
                } else if (msg.type === "done") {
                  done(msg.result, "live");
                } else if (msg.type === "error") {
                  setProgress(progress, "error", { text: "refused" });
                  message.textContent = `The server refused this SAE: ${formatDetail(msg.detail)}`;
                }
              },
            },
            liveUrl("/api/saes/live"),
          );
          client.connect();
        }
        lastStep = 0;
        flashes.clear();
        client.send({ ...preset.sae, retrain: true });
        setProgress(progress, "queued", { text: "starting (the toy model first, unless cached)…" });
      },
    });
    retrain.title = "Train this SAE again, live, and watch its decoder find the features";
  }
  if (pageUrl) {
    const link = document.createElement("a");
    link.className = "sae-page-link";
    link.href = pageUrl;
    link.textContent = "Open on the SAE page →";
    bar.append(link);
  }

  if (!preset.sae_id) {
    message.textContent = "No SAE id for this preset.";
    return;
  }
  setProgress(progress, "queued", { text: "loading from the cache…" });
  let result;
  try {
    result = await ctx.fetchJson(`/api/saes/${preset.sae_id}`);
  } catch (err) {
    const missing = err instanceof ApiError && err.status === 404;
    message.textContent = missing
      ? "Not trained yet: not in the server's cache (python -m server.precompute --all ships it). “Retrain live” trains it here."
      : `Could not load the cached SAE: ${failureText(err)}`;
    setProgress(progress, /** @type {any} */ (missing ? "missing" : "error"), { text: missing ? "not trained yet" : "error" });
    container.dataset.source = missing ? "missing" : "error";
    return;
  }
  if (gone() || shown) return; // another preset opened, or a retraining already drew
  done(result, "cache");
}

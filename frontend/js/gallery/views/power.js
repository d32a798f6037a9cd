// The gallery's power view: a prominent link to the power page (which trains and draws the theory
// beside the points), opened on the preset's sweep, and the cached sweep's plot under it: the
// server plans the sweep (POST /api/power-sweeps/plan), each m's model comes from the cache
// (GET /api/models/{id}) and its theory lines from GET /api/theory/power, drawn by plots/power.js
// as on the page.

import { M_COLOURS, renderPowerPlot } from "../../plots/power.js";
import { measuredGains, powerPageUrl, theoryPath } from "../../power/state.js";
import { linkedFigure, loadLinked } from "../common.js";

/** @typedef {import("../views.js").ViewContext} ViewContext */

/**
 * Fill `container` once per preset: the link, then the plot once the cached models arrive.
 * @param {HTMLElement} container
 * @param {ViewContext} ctx
 * @returns {Promise<void>}
 */
export async function renderPower(container, ctx) {
  const { preset } = ctx;
  if (container.dataset.powerPreset === preset.id) return;
  container.dataset.powerPreset = preset.id;
  const sweep = preset.power_sweep ?? {};
  const parts = linkedFigure(container, {
    href: powerPageUrl(sweep),
    link: "Open the power page: the gain over answering zero against p, beside the theorem →",
    intro:
      "The power page trains any sweep of k, m, n and p and lays the theorem's scaling shapes " +
      "beside the points with a constant you choose. Below: the cached sweep.",
    title: "Gain L̃ = L(x′ = 0) − L against p, per m",
    loading: "Loading the cached sweep…",
  });
  const series = await loadLinked(
    parts,
    async () => {
      const plan = await ctx.fetchJson("/api/power-sweeps/plan", { method: "POST", body: JSON.stringify(sweep) });
      return Promise.all(
        plan.runs.map(async (/** @type {any} */ run, /** @type {number} */ i) => {
          const [result, theory] = await Promise.all([
            ctx.fetchJson(`/api/models/${run.model_id}?gram=false`),
            ctx.fetchJson(theoryPath(plan, run)),
          ]);
          return { m: run.n_hidden, n: run.n_features, colour: M_COLOURS[i % M_COLOURS.length], theory, gains: measuredGains(result) };
        }),
      );
    },
    "Not trained yet: the power page trains it.",
    "sweep",
  );
  if (!series || container.dataset.powerPreset !== preset.id) return; // or another preset opened
  renderPowerPlot(parts.plot, series, { k: sweep.k ?? 3, c: 1 });
}

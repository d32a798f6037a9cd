// Side-by-side comparison (issue 16): two explorers in frames, each with its own URL state.
// This page's hash holds both: #left=<explorer hash>&right=<explorer hash>; a change in either
// frame (a control, play/pause, presentation layout) is written back here, so the link reproduces
// the pair.

import { byId } from "./dom.js";

/** What each side shows when the link names nothing: the same model, dense and sparse. */
export const DEFAULTS = Object.freeze({
  left: "n_features=5&n_hidden=2&feature_probability=1&importance_decay=0.9&present=gram-geometry",
  right: "n_features=5&n_hidden=2&feature_probability=0.05&importance_decay=0.9&present=gram-geometry",
});

/** How often the frames' addresses are read back, in ms (replaceState fires no event). */
const POLL_MS = 400;

/**
 * Start the page: load both frames from this page's hash and keep the hash in step with them.
 * @returns {void}
 */
export function main() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  /** @type {Record<"left"|"right", HTMLIFrameElement>} */
  const frames = {
    left: /** @type {HTMLIFrameElement} */ (byId("left")),
    right: /** @type {HTMLIFrameElement} */ (byId("right")),
  };
  for (const side of /** @type {const} */ (["left", "right"])) {
    frames[side].src = `/#${params.get(side) || DEFAULTS[side]}`;
  }
  window.setInterval(() => {
    const next = new URLSearchParams();
    for (const side of /** @type {const} */ (["left", "right"])) {
      let hash = params.get(side) || DEFAULTS[side];
      try {
        hash = frames[side].contentWindow?.location.hash.replace(/^#/, "") || hash;
      } catch {
        // not loaded yet
      }
      next.set(side, hash);
    }
    const text = `#${next.toString()}`;
    if (window.location.hash !== text) window.history.replaceState(null, "", text);
  }, POLL_MS);
}

main();

// A preset's claims under its teaching text: the paper's claim beside the figure the server
// computed from the cached result (GET /api/presets `claims`, server/claims.py), and whether the
// figure bears it out (✓ agrees, ✗ does not, – not checkable or not cached).

/**
 * @typedef {object} Claim
 * @property {string} claim the paper's statement
 * @property {string|null} measured the figure from the cached result, null when not cached
 * @property {boolean|null} agrees
 */

/**
 * Fill (or empty) the claims list after `text`.
 * @param {HTMLElement} text the preset's teaching text paragraph
 * @param {Claim[]|undefined} claims
 * @returns {void}
 */
export function renderClaims(text, claims) {
  let list = /** @type {HTMLElement|null} */ (text.parentElement?.querySelector("#detail-claims") ?? null);
  if (!list) {
    list = document.createElement("ul");
    list.id = "detail-claims";
    list.className = "detail-claims";
    list.style.cssText = "margin:4px 0 8px;padding-left:18px;font-size:13px;color:#3c4043;";
    text.after(list);
  }
  const items = Array.isArray(claims) ? claims : [];
  list.hidden = items.length === 0;
  list.replaceChildren(
    ...items.map((c) => {
      const li = document.createElement("li");
      li.dataset.agrees = String(c.agrees);
      const mark = c.agrees === true ? "✓" : c.agrees === false ? "✗" : "–";
      const badge = document.createElement("strong");
      badge.textContent = `${mark} `;
      badge.style.color = c.agrees === true ? "#188038" : c.agrees === false ? "#c5221f" : "#5f6368";
      const paper = document.createElement("span");
      paper.textContent = `Paper: ${c.claim} `;
      const measured = document.createElement("em");
      measured.textContent = c.measured === null ? "Not trained yet." : `Measured here: ${c.measured}.`;
      li.append(badge, paper, measured);
      return li;
    }),
  );
}

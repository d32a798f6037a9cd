// DOM helpers shared by the pages.

/**
 * Look up an element that the page's HTML must have.
 * @param {string} id
 * @returns {HTMLElement}
 * @throws {Error} when the page lacks it
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`${window.location.pathname} lacks #${id}`);
  return el;
}

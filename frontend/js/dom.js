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

/**
 * Append one labelled control to a sidebar fieldset, in the markup styles.css expects
 * (div.control > div.control-head > label + input, then an optional p.help line).
 * @param {HTMLElement} fieldset
 * @param {string} label the label's text
 * @param {HTMLInputElement|HTMLSelectElement} input its `id` must be set
 * @param {string} [help] a line of help under it
 * @returns {void}
 */
export function appendControl(fieldset, label, input, help = "") {
  const wrap = document.createElement("div");
  wrap.className = "control";
  const head = document.createElement("div");
  head.className = "control-head";
  const lab = document.createElement("label");
  lab.htmlFor = input.id;
  lab.textContent = label;
  head.append(lab, input);
  wrap.append(head);
  if (help) {
    const p = document.createElement("p");
    p.className = "help";
    p.textContent = help;
    wrap.append(p);
  }
  fieldset.append(wrap);
}

/**
 * Append a button to a container.
 * @param {HTMLElement} container
 * @param {{id: string, className: string, text: string, onClick: () => void}} spec
 * @returns {HTMLButtonElement}
 */
export function appendButton(container, { id, className, text, onClick }) {
  const button = document.createElement("button");
  button.type = "button";
  button.id = id;
  button.className = className;
  button.textContent = text;
  button.addEventListener("click", onClick);
  container.append(button);
  return button;
}

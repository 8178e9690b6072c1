// @ts-check
/**
 * Building the page from elements, never from HTML strings: a label or a name typed by
 * someone else is always text, never markup.
 */

/**
 * @typedef {Record<string, string | boolean | number | EventListener | undefined>} Props
 * Attributes, `on<event>` listeners (`onclick`), and `text` for the text content.
 */

/** @typedef {Node | string | null | undefined | false} Child */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) {
      continue;
    }
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "text") {
      element.textContent = String(value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child) {
      element.append(child);
    }
  }
  return element;
}

/**
 * Replaces the content of `parent` with `children`.
 * @param {Element} parent
 * @param {...(Child | Child[])} children
 */
export function show(parent, ...children) {
  const present = children.flat().filter((child) => !!child);
  parent.replaceChildren(.../** @type {(Node | string)[]} */ (present));
}

/**
 * A fieldset of checkboxes named `name`, one per option, those in `checked` ticked: what
 * `FormData.getAll(name)` reads back.
 * @param {string} legend the fieldset's accessible name
 * @param {string} name
 * @param {{value: string, text: string}[]} options
 * @param {string[]} [checked]
 * @returns {HTMLFieldSetElement}
 */
export function checkboxes(legend, name, options, checked = []) {
  return h(
    "fieldset",
    {},
    h("legend", { text: legend }),
    options.map(({ value, text }) =>
      h(
        "label",
        {},
        h("input", { type: "checkbox", name, value, checked: checked.includes(value) }),
        text,
      ),
    ),
  );
}

// The rows of a paged list: each turn of its pager asks the API for the next ones.
export const PAGE_SIZE = 20;

/**
 * The `first` and `after` of the page these cursors lead to.
 * @param {(string | null)[]} cursors the `after` of each page up to this one
 * @returns {{first: number, after: string | null}}
 */
export function pageOf(cursors) {
  return { first: PAGE_SIZE, after: cursors[cursors.length - 1] };
}

/**
 * The cursors of the page to show instead of an empty one other than the first (its rows
 * were removed meanwhile): the page before it; else `cursors` themselves.
 * @param {(string | null)[]} cursors
 * @param {unknown[]} rows what the page these cursors lead to holds
 * @returns {(string | null)[]}
 */
export function stepBack(cursors, rows) {
  return rows.length === 0 && cursors.length > 1 ? cursors.slice(0, -1) : cursors;
}

/**
 * *Previous page* and *Next page* over a connection paged with the API's cursors, in a
 * navigation landmark named "Pages of `what`" (a page may have two lists); null where the
 * list has one page only.
 * @param {(string | null)[]} cursors the `after` of each page up to this one
 * @param {{hasNextPage: boolean, endCursor: string | null}} pageInfo the page shown
 * @param {(cursors: (string | null)[]) => unknown} turn shows the page these cursors lead to
 * @param {string} what the rows paged, as the landmark's name says them
 * @returns {HTMLElement | null}
 */
export function pager(cursors, pageInfo, turn, what) {
  if (cursors.length === 1 && !pageInfo.hasNextPage) {
    return null;
  }
  return h(
    "nav",
    { class: "pager", "aria-label": `Pages of ${what}` },
    cursors.length > 1 &&
      h("button", {
        type: "button",
        text: "Previous page",
        onclick: () => turn(cursors.slice(0, -1)),
      }),
    pageInfo.hasNextPage &&
      h("button", {
        type: "button",
        text: "Next page",
        onclick: () => turn([...cursors, pageInfo.endCursor]),
      }),
  );
}

/**
 * A labelled input: the label's text is the field's accessible name.
 * @param {string} text
 * @param {Props} props
 * @returns {HTMLLabelElement}
 */
export function field(text, props) {
  return h("label", {}, h("span", { text }), h("input", props));
}

/**
 * The value of a form's named control.
 * @param {HTMLFormElement} form
 * @param {string} name
 * @returns {string}
 */
export function formValue(form, name) {
  const value = new FormData(form).get(name);
  return typeof value === "string" ? value : "";
}

/**
 * A modal dialog, added to the page and opened; removed when closed.
 * @param {string} title
 * @param {...(Child | Child[])} children
 * @returns {HTMLDialogElement}
 */
export function openDialog(title, ...children) {
  const heading = h("h2", { text: title, id: `dialog-${crypto.randomUUID()}` });
  const dialog = h("dialog", { "aria-labelledby": heading.id }, heading, ...children);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/**
 * A date and time as a person reads it, in their locale; "never" for null.
 * @param {string | null | undefined} iso
 * @param {string} [none]
 * @returns {string}
 */
export function when(iso, none = "never") {
  return iso ? new Date(iso).toLocaleString() : none;
}

/**
 * Handles a form's submit with `work`: its buttons disabled meanwhile (no double submit),
 * and a failure of the request itself shown in `alert`.
 * @param {HTMLFormElement} form
 * @param {HTMLElement} alert
 * @param {() => Promise<void>} work
 */
export function onSubmit(form, alert, work) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    alert.textContent = "";
    const buttons = [...form.querySelectorAll("button")];
    for (const button of buttons) {
      button.disabled = true;
    }
    try {
      await work();
    } catch (failure) {
      alert.textContent = failure instanceof Error ? failure.message : String(failure);
    } finally {
      for (const button of buttons) {
        button.disabled = false;
      }
    }
  });
}

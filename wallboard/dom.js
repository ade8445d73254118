// Small DOM helpers shared by the views. Text is only ever set with textContent.
import { describe } from "./definitions.js";

export const $ = (selector, root = document) => root.querySelector(selector);

/** The elements of `root` that carry `data-field`, by field name. */
export function fieldsOf(root) {
  const fields = {};
  for (const element of root.querySelectorAll("[data-field]")) {
    fields[element.dataset.field] = element;
  }
  return fields;
}

export function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

export function setTitle(element, title) {
  if (element.title !== title) element.title = title;
}

/** Every `[data-def]` under `root` gets its definition as tooltip (`data-period` or `period`). */
export function applyDefinitions(root, period = null) {
  const elements = [...root.querySelectorAll("[data-def]")];
  if (root.dataset?.def) elements.push(root);
  for (const element of elements) {
    element.title = describe(element.dataset.def, element.dataset.period ?? period);
  }
}

/** Keep `container`'s keyed children in `order`, creating and removing as needed. */
export function reconcile(container, items, order, create, update) {
  const keep = new Set(order);
  for (const [key, item] of items) {
    if (!keep.has(key)) {
      item.root.remove();
      items.delete(key);
    }
  }
  let previous = null;
  for (const key of order) {
    let item = items.get(key);
    if (!item) {
      item = create(key);
      items.set(key, item);
    }
    update(key, item);
    const expected = previous ? previous.nextElementSibling : container.firstElementChild;
    if (expected !== item.root) {
      if (previous) previous.after(item.root);
      else container.prepend(item.root);
    }
    previous = item.root;
  }
}

/** Clone the first element of `<template id=…>`. */
export function fromTemplate(id) {
  return document.getElementById(id).content.firstElementChild.cloneNode(true);
}

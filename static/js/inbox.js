// The inbox and the lead page: live countdowns to deadlines, and action forms in a <dialog>.
//
// Wired by attributes only: <time data-countdown datetime="..."> is reworded every 30 seconds;
// htmx loads an action's form into #dialog-body, which opens the dialog; a button with
// data-dialog-close closes it, and so does the server's "action-done" event once an action is
// done. Without this file (or without JavaScript) every form opens as a page of its own.
(function () {
  "use strict";

  // As handoff/templatetags/handoff_inbox.py words them on the server: keep the two alike.
  const SOON_SECONDS = 15 * 60;

  function span(minutes) {
    if (minutes < 60) return `${minutes} min`;
    const hours = Math.floor(minutes / 60);
    const rest = minutes % 60;
    if (hours < 24) return rest ? `${hours} h ${rest} min` : `${hours} h`;
    const days = Math.floor(hours / 24);
    const leftover = hours % 24;
    return leftover ? `${days} d ${leftover} h` : `${days} d`;
  }

  function countdownText(seconds) {
    if (seconds === 0) return "due now";
    if (seconds > 0) return `in ${span(Math.ceil(seconds / 60))}`;
    const minutes = Math.floor(-seconds / 60);
    return minutes ? `overdue by ${span(minutes)}` : "overdue";
  }

  function countdownState(seconds) {
    if (seconds < 0) return "overdue";
    return seconds <= SOON_SECONDS ? "soon" : "ok";
  }

  function refreshCountdowns(root) {
    const now = Date.now();
    root.querySelectorAll("time[data-countdown]").forEach((element) => {
      const seconds = (Date.parse(element.dateTime) - now) / 1000;
      element.textContent = countdownText(seconds);
      element.dataset.state = countdownState(seconds);
    });
  }

  refreshCountdowns(document);
  setInterval(() => refreshCountdowns(document), 30 * 1000);
  // Content htmx swapped in (the queue after an action, a page of it) is worded at once.
  document.addEventListener("htmx:load", (event) => refreshCountdowns(event.target));

  function dialog() {
    return document.getElementById("action-dialog");
  }

  // A form arrived in the dialog: open it (if it is not open yet) and put the keyboard on the
  // first field the server found wrong, or else on the first field.
  document.addEventListener("htmx:afterSwap", (event) => {
    const box = dialog();
    if (!box || event.detail.target.id !== "dialog-body") return;
    if (!box.open) box.showModal();
    const field =
      box.querySelector('[aria-invalid="true"]') ||
      box.querySelector("input:not([type=hidden]), select, textarea, button");
    if (field) field.focus();
  });

  document.addEventListener("action-done", () => {
    const box = dialog();
    if (box && box.open) box.close();
  });

  document.addEventListener("click", (event) => {
    const box = dialog();
    if (box && event.target.closest("[data-dialog-close]")) box.close();
  });

  // A closed dialog forgets its form, so that an old one never shows again.
  const box = dialog();
  if (box) box.addEventListener("close", () => document.getElementById("dialog-body").replaceChildren());
})();

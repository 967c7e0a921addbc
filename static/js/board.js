// The pipeline board: drag a card to another column, and the server makes (or refuses) the move.
//
// Wired by attributes: [data-board] holds the columns, each <ol data-stage> a list of cards
// (<li data-lead data-moves="STAGE:needs ...">, the moves the viewer's role may make and what
// each asks for first). A drop is sent to /board/leads/<id>/move/ (Accept: application/json);
// the answer is the moved card and both columns' totals, or a refusal whose message is shown
// in #board-status while the card goes back where it was. A move that needs a reason, a reject
// reason or the discovery checklist first loads its form into #board-dialog; cancelling puts
// the card back. Without this file each card's "Move to…" form does the same as a page post.
(function () {
  "use strict";

  const board = document.querySelector("[data-board]");
  if (!board || typeof Sortable === "undefined") return;
  const status = document.getElementById("board-status");
  const dialog = document.getElementById("board-dialog");
  const dialogBody = document.getElementById("board-dialog-body");
  const filters = board.dataset.filters || "";

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function moveUrl(leadId, to) {
    const query = [];
    if (to) query.push(`to=${encodeURIComponent(to)}`);
    if (filters) query.push(filters);
    return `/board/leads/${leadId}/move/` + (query.length ? `?${query.join("&")}` : "");
  }

  function say(text, isError) {
    status.textContent = text;
    status.dataset.state = isError ? "error" : "ok";
  }

  // Put a dropped card back where it came from (the drop is the DOM's until the server says).
  function putBack(drop) {
    const anchor = drop.from.children[drop.oldIndex] || null;
    drop.from.insertBefore(drop.item, anchor);
    drop.item.classList.remove("moving");
  }

  // What the card's move to `to` asks for first: "" nothing, "reason", "reject", "checklist";
  // null when the viewer's role has no such move (sent all the same: the server says why not).
  function needsOf(card, to) {
    for (const part of (card.dataset.moves || "").trim().split(/\s+/)) {
      const [stage, needs] = part.split(":");
      if (stage === to) return needs || "";
    }
    return null;
  }

  async function answer(response) {
    try {
      return await response.json();
    } catch (error) {
      return { message: `The server could not make the move (${response.status}).` };
    }
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
    });
    return { ok: response.ok, data: await answer(response) };
  }

  function setTotals(stage, totals) {
    const column = board.querySelector(`[data-column="${stage}"]`);
    if (!column) return;
    const average = totals.score_avg === null ? "—" : Number(totals.score_avg).toFixed(1);
    column.querySelector("[data-count]").textContent = totals.count;
    column.querySelector("[data-totals]").textContent =
      `score total ${totals.score_sum} · avg ${average}`;
  }

  // The server made the move: the card is replaced by its new self in the column of the stage
  // the lead is in now (a rejection may put it elsewhere than where it was dropped).
  function moved(card, data) {
    say(data.message, false);
    Object.entries(data.totals || {}).forEach(([stage, totals]) => setTotals(stage, totals));
    if (!data.card) {
      card.remove();
      return;
    }
    const template = document.createElement("template");
    template.innerHTML = data.card.trim();
    const fresh = template.content.firstElementChild;
    const list = board.querySelector(`ol[data-stage="${data.stage}"]`);
    if (list && card.parentElement !== list) list.prepend(fresh);
    else card.before(fresh);
    card.remove();
  }

  // --- the dialog a move asks its input in ---------------------------------------------------

  let waiting = null; // {drop, done}: the drop the open dialog belongs to

  async function askFirst(drop, to) {
    const card = drop.item;
    const response = await fetch(moveUrl(card.dataset.lead, to), {
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-Board-Dialog": "1" },
    });
    if (!response.ok) {
      const data = await answer(response);
      putBack(drop);
      say(data.message, true);
      return;
    }
    dialogBody.innerHTML = await response.text();
    waiting = { drop, done: false };
    dialog.showModal();
    const field = dialogBody.querySelector("select, textarea, input:not([type=hidden])");
    if (field) field.focus();
  }

  dialog.addEventListener("close", () => {
    if (waiting && !waiting.done) {
      putBack(waiting.drop);
      say("Move cancelled: the card is back where it was.", false);
    }
    waiting = null;
    dialogBody.replaceChildren();
  });

  dialogBody.addEventListener("click", (event) => {
    if (event.target.closest("[data-dialog-close]")) dialog.close();
  });

  dialogBody.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!waiting) return;
    const form = event.target;
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    const { ok, data } = await post(form.action, new FormData(form));
    button.disabled = false;
    if (!ok) {
      const error = form.querySelector("[data-error]");
      error.textContent = data.message;
      error.hidden = false;
      return;
    }
    waiting.done = true;
    moved(waiting.drop.item, data);
    dialog.close();
  });

  // --- drag and drop ---------------------------------------------------------------------------

  async function dropped(drop) {
    if (drop.from === drop.to) return;
    const card = drop.item;
    const to = drop.to.dataset.stage;
    const needs = needsOf(card, to);
    if (needs) {
      await askFirst(drop, to);
      return;
    }
    card.classList.add("moving");
    const body = new FormData();
    body.append("to", to);
    const { ok, data } = await post(moveUrl(card.dataset.lead), body);
    if (ok) {
      moved(card, data);
    } else {
      putBack(drop);
      say(data.message, true);
    }
  }

  board.querySelectorAll("ol[data-stage]").forEach((list) => {
    Sortable.create(list, {
      group: "board",
      sort: false,
      animation: 120,
      // The card's own controls (its link, the Move to… form) stay clickable and typeable.
      filter: "a, details, summary, select, input, button, label",
      preventOnFilter: false,
      onEnd: dropped,
    });
  });
})();

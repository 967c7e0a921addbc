// The lead list's selection: a "select every lead on this page" box, the count of selected
// leads, and the bulk bar's scope following the selection. Wired by data- attributes on the
// bulk form (templates/leads/_lead_rows.html), which htmx replaces on every filter change, so
// the listeners sit on the document. Without this file the form works all the same: the user
// picks the rows and the scope by hand.
(function () {
  "use strict";

  function boxes(form) {
    return Array.from(form.querySelectorAll('input[type=checkbox][name="id"]'));
  }

  function refresh(form) {
    const all = boxes(form);
    const checked = all.filter((box) => box.checked).length;
    const count = form.querySelector("[data-selected-count]");
    if (count) count.textContent = checked ? `(${checked})` : "";
    const selectAll = form.querySelector("[data-select-all]");
    if (selectAll) {
      selectAll.hidden = all.length === 0;
      selectAll.checked = all.length > 0 && checked === all.length;
      selectAll.indeterminate = checked > 0 && checked < all.length;
    }
  }

  function setup(root) {
    root.querySelectorAll("form[data-bulk]").forEach(refresh);
  }

  document.addEventListener("change", (event) => {
    const form = event.target.closest("form[data-bulk]");
    if (!form) return;
    if (event.target.matches("[data-select-all]")) {
      boxes(form).forEach((box) => { box.checked = event.target.checked; });
    }
    if (event.target.name === "id" || event.target.matches("[data-select-all]")) {
      const selected = form.querySelector('input[name="scope"][value="selected"]');
      if (selected) selected.checked = true;
    }
    refresh(form);
  });

  // Acting on every lead of a filter may touch thousands: ask first.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!form.matches("form[data-bulk]")) return;
    const button = event.submitter;
    const whole = form.querySelector('input[name="scope"][value="filter"]');
    if (!whole || !whole.checked || !button || button.dataset.confirm === undefined) return;
    if (!window.confirm(button.dataset.confirm)) event.preventDefault();
  });

  document.addEventListener("DOMContentLoaded", () => setup(document));
  document.addEventListener("htmx:afterSettle", (event) => setup(event.target));
})();

// The fill queue without the mouse, and kept current while colleagues work it.
// Keys (shown on the page): J/K next/previous fill, S start, F fill (focus the NDC box; scan
// or type, Enter), V verify, X flag (pick the reason, Enter), / filters, Esc back to the row.
// A poll of the queue's version token (every 5 s, 204 while nothing changed) fires
// "queue-changed"; the queue's body is then fetched again, unless a scan is half typed.
// No inline script or handler: the page's CSP forbids them.
(function () {
  "use strict";
  let currentId = null;
  let pending = false;

  const rows = () => Array.from(document.querySelectorAll("tr.queue-item"));
  const isField = (el) => el && ["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName);
  const rowOf = (el) => (el && el.closest ? el.closest("tr.queue-item") : null);
  const notice = (text) => {
    const box = document.getElementById("queue-notice");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  };

  function focusRow(row) {
    if (!row) return;
    row.focus();
    currentId = row.id;
  }

  function halfTyped() {
    return Array.from(document.querySelectorAll(".ndc-input")).some((input) => input.value);
  }

  // A row's own change and a whole-queue refresh must not cross: a refresh is not started
  // while a row waits for its answer, and a refresh's answer is dropped (and asked again) when
  // a row changed since it was asked, when a row is waiting now, or when a newer one was asked.
  // Swapping an older body over a row's answer would show a state that is no longer true.
  let rowChanges = 0;
  let refreshes = 0;
  const rowBusy = () =>
    Boolean(document.querySelector("tr.queue-item.htmx-request, tr.queue-item .htmx-request"));

  function refresh() {
    if (rowBusy()) {
      pending = true;
      return;
    }
    pending = false;
    const asked = ++refreshes;
    const changesWhenAsked = rowChanges;
    const query = new URLSearchParams(window.location.search);
    query.set("poll", "1");
    fetch(window.location.pathname + "?" + query.toString(), {
      headers: { "HX-Request": "true", "HX-Target": "queue-body" },
      credentials: "same-origin",
    })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((html) => {
        if (asked !== refreshes) return; // a newer refresh is on its way
        if (rowChanges !== changesWhenAsked || rowBusy()) {
          pending = true;
          if (!rowBusy()) refresh();
          return;
        }
        const body = document.getElementById("queue-body");
        if (!body) return;
        htmx.swap(body, html, { swapStyle: "outerHTML" });
        notice("The queue was updated with a colleague's changes.");
        const row = currentId && document.getElementById(currentId);
        if (row && !isField(document.activeElement)) focusRow(row);
      })
      .catch(() => {
        pending = true; // the next poll tries again
      });
  }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const active = document.activeElement;
    if (isField(active)) {
      if (event.key === "Escape") {
        const row = rowOf(active);
        active.blur();
        focusRow(row);
      } else if (event.key === "Enter" && active.tagName === "SELECT" && active.form) {
        event.preventDefault();
        active.form.requestSubmit();
      }
      return;
    }
    const key = event.key.toLowerCase();
    if (key === "/") {
      event.preventDefault();
      const filter = document.getElementById("queue-filter-section");
      if (filter) filter.focus();
      return;
    }
    const all = rows();
    if (!all.length) return;
    const row = rowOf(active) || (currentId && document.getElementById(currentId));
    const at = all.indexOf(row);
    if (key === "j" || key === "k") {
      event.preventDefault();
      const next = key === "j" ? Math.min(at + 1, all.length - 1) : Math.max(at - 1, 0);
      focusRow(all[at < 0 ? 0 : next]);
      return;
    }
    if (!["s", "f", "v", "x"].includes(key) || !row) return;
    event.preventDefault();
    currentId = row.id;
    const control = row.querySelector('[data-key="' + key + '"]');
    if (!control) {
      notice("That step is not open for this fill now.");
      return;
    }
    notice("");
    if (control.tagName === "BUTTON") control.click();
    else control.focus();
  });

  // A refused change (400 wrong NDC, 409 someone else was first) still shows its row, with
  // the message; a 403 (not the member's step) says so above the queue.
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    if (rowOf(event.detail.elt)) rowChanges += 1;
  });

  document.body.addEventListener("htmx:beforeSwap", (event) => {
    const status = event.detail.xhr.status;
    const target = event.detail.target;
    if ((status === 400 || status === 409) && target && target.matches("tr.queue-item")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (status === 403) {
      notice("Only a pharmacist can do this.");
    }
  });

  document.body.addEventListener("htmx:afterSettle", (event) => {
    const target = event.detail.target;
    if (target && target.matches && target.matches("tr.queue-item")) {
      const row = document.getElementById(target.id) || document.getElementById(currentId);
      if (row && !isField(document.activeElement)) focusRow(row);
      if (pending && !halfTyped()) refresh();
    }
  });

  // The flag: one dialog for the page (a reason and a note), posted for the row it was opened on.
  const dialog = document.getElementById("flag-dialog");
  let flagging = null;
  document.body.addEventListener("click", (event) => {
    const button = event.target.closest ? event.target.closest("[data-flag-url]") : null;
    if (!button || !dialog) return;
    flagging = { url: button.dataset.flagUrl, row: rowOf(button) };
    currentId = flagging.row.id;
    dialog.showModal();
    document.getElementById("flag-reason").focus();
  });
  if (dialog) {
    const form = document.getElementById("flag-form");
    document.getElementById("flag-cancel").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      const row = currentId && document.getElementById(currentId);
      if (row) focusRow(row);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!flagging) return;
      const data = new FormData(form);
      const shown = JSON.parse(flagging.row.getAttribute("hx-vals") || "{}");
      const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      htmx.ajax("POST", flagging.url, {
        source: flagging.row, // the row's change: a refresh waits for it
        target: flagging.row,
        swap: "outerHTML",
        headers: headers,
        values: {
          flag_reason: data.get("flag_reason"),
          note: data.get("note"),
          version: shown.version,
        },
      });
      form.reset();
      flagging = null;
      dialog.close();
    });
  }

  document.body.addEventListener("focusin", (event) => {
    const row = rowOf(event.target);
    if (row) currentId = row.id;
  });

  document.body.addEventListener("queue-changed", () => {
    if (halfTyped() || isField(document.activeElement)) {
      pending = true;
      notice("A colleague changed the queue: it updates when you finish this fill.");
      return;
    }
    refresh();
  });
})();

// leadcrm lead-capture forms: sends a form in the page and shows the answer there.
//
// Works on the hosted page (/f/<slug>/) and on any website that pastes the embed snippet. It
// finds every <form data-leadcrm-form>, and:
// - puts in the hidden inputs what the page knows: the utm_* parameters of its address, the
//   referrer, the analytics anonymous id (Segment's ajs_anonymous_id, RudderStack's
//   rl_anonymous_id) and, when the form has none, the signed "shown at" timestamp it fetches
//   from leadcrm (GET <action>start/);
// - on submit, POSTs the form with fetch (Accept: application/json; no cookies), then shows the
//   thank-you in place of the form (or goes to the form's redirect), or each field's error
//   beside it, the keyboard on the first field to fix.
// Without this file the form still posts as plain HTML to leadcrm, which answers with a page.
(function () {
  "use strict";

  const UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
  const NETWORK_ERROR = "The form could not be sent: check your connection and try again.";

  function input(form, name) {
    let element = form.querySelector(`input[name="${name}"]`);
    if (!element) {
      element = document.createElement("input");
      element.type = "hidden";
      element.name = name;
      form.appendChild(element);
    }
    return element;
  }

  function cookie(name) {
    const prefix = `${name}=`;
    const found = document.cookie.split("; ").find((part) => part.startsWith(prefix));
    if (!found) return "";
    try {
      return decodeURIComponent(found.slice(prefix.length));
    } catch (error) {
      return "";
    }
  }

  function stored(name) {
    try {
      return window.localStorage.getItem(name) || "";
    } catch (error) {
      return ""; // storage blocked (privacy settings)
    }
  }

  // Both libraries keep the id JSON-encoded ("\"abc\""); RudderStack's v3 SDK wraps it in
  // "RS_ENC_v3_" + base64. Its v1 SDK encrypts it: its API (below) is asked first for that.
  function unwrap(raw) {
    let value = raw || "";
    if (value.startsWith("RS_ENC_v3_")) {
      try {
        value = window.atob(value.slice("RS_ENC_v3_".length));
      } catch (error) {
        return "";
      }
    }
    if (value.startsWith("RudderEncrypt:")) return "";
    try {
      const parsed = JSON.parse(value);
      return typeof parsed === "string" ? parsed : "";
    } catch (error) {
      return value;
    }
  }

  function fromApi() {
    try {
      const segment = window.analytics;
      if (segment && typeof segment.user === "function") {
        const id = segment.user().anonymousId();
        if (id) return String(id);
      }
      const rudder = window.rudderanalytics;
      if (rudder && typeof rudder.getAnonymousId === "function") {
        const id = rudder.getAnonymousId();
        if (id) return String(id);
      }
    } catch (error) {
      // A library still loading (its stub has no such methods): read its storage instead.
    }
    return "";
  }

  function anonymousId() {
    const id = fromApi();
    if (id) return id;
    for (const name of ["ajs_anonymous_id", "rl_anonymous_id"]) {
      const value = unwrap(cookie(name)) || unwrap(stored(name));
      if (value) return value;
    }
    return "";
  }

  function fetchToken(form) {
    const token = input(form, "leadcrm_ts");
    return fetch(new URL("start/", form.action), {
      headers: { Accept: "application/json" },
      credentials: "omit",
    })
      .then((response) => (response.ok ? response.json() : null))
      .then((body) => {
        if (body && body.token) token.value = body.token;
      })
      .catch(() => {
        // Sent without one, the form comes back from leadcrm to be sent once more.
      });
  }

  function say(form, text) {
    const box = form.querySelector("[data-leadcrm-message]");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  function fieldOf(form, name) {
    return Array.from(form.querySelectorAll("[data-leadcrm-field]")).find(
      (element) => element.dataset.leadcrmField === name
    );
  }

  function clearErrors(form) {
    say(form, "");
    form.querySelectorAll("[data-leadcrm-field]").forEach((field) => {
      field.classList.remove("leadcrm-invalid");
      const error = field.querySelector("[data-leadcrm-error]");
      if (error) {
        error.textContent = "";
        error.hidden = true;
      }
      field.querySelectorAll("input, select, textarea").forEach((control) => {
        control.removeAttribute("aria-invalid");
      });
    });
  }

  function showErrors(form, fields) {
    let first = null;
    Object.keys(fields).forEach((name) => {
      const field = fieldOf(form, name);
      if (!field) return;
      field.classList.add("leadcrm-invalid");
      const error = field.querySelector("[data-leadcrm-error]");
      if (error) {
        error.textContent = [].concat(fields[name]).join(" ");
        error.hidden = false;
      }
      const control = field.querySelector("input, select, textarea");
      if (control) {
        control.setAttribute("aria-invalid", "true");
        first = first || control;
      }
    });
    return first;
  }

  function done(form, body) {
    if (body.redirect) {
      window.location.assign(body.redirect);
      return;
    }
    const thanks = document.createElement("div");
    thanks.className = "leadcrm-thanks";
    thanks.setAttribute("role", "status");
    thanks.tabIndex = -1;
    thanks.textContent = body.message || "Thank you!";
    form.replaceWith(thanks);
    thanks.focus();
  }

  function refused(form, body) {
    const first = body.fields ? showErrors(form, body.fields) : null;
    say(form, body.message || NETWORK_ERROR);
    if (body.code === "stale_form") fetchToken(form);
    (first || form.querySelector("[data-leadcrm-message]")).focus();
  }

  function submit(form) {
    const anonymous = input(form, "anonymous_id");
    if (!anonymous.value) anonymous.value = anonymousId();
    const button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    clearErrors(form);
    fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" },
      credentials: "omit",
    })
      .then((response) => response.json().then((body) => ({ ok: response.ok, body })))
      .then(({ ok, body }) => (ok ? done(form, body) : refused(form, body)))
      .catch(() => refused(form, { message: NETWORK_ERROR }))
      .finally(() => {
        if (button) button.disabled = false;
      });
  }

  function start(form) {
    const params = new URLSearchParams(window.location.search);
    UTM.forEach((name) => {
      const element = input(form, name);
      const value = params.get(name);
      if (!element.value && value) element.value = value.slice(0, 200);
    });
    const referrer = input(form, "referrer");
    if (!referrer.value) referrer.value = document.referrer.slice(0, 500);
    if (!input(form, "leadcrm_ts").value) fetchToken(form);
    // Hidden by our stylesheet too; a website that leaves the stylesheet out still hides it.
    const honeypot = form.querySelector(".leadcrm-hp");
    if (honeypot) honeypot.hidden = true;
    const message = form.querySelector("[data-leadcrm-message]");
    if (message) message.tabIndex = -1;
    // A page the server drew again with errors: the keyboard starts on the first to fix.
    const invalid = form.querySelector('[aria-invalid="true"]');
    if (invalid) invalid.focus();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit(form);
    });
  }

  function startAll() {
    document.querySelectorAll("form[data-leadcrm-form]").forEach((form) => {
      if (form.dataset.leadcrmStarted) return;
      form.dataset.leadcrmStarted = "1";
      start(form);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", startAll);
  } else {
    startAll();
  }
})();

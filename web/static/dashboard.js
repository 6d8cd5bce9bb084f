// The dashboard refreshes its sections from /dashboard/sections (server-rendered HTML) without
// reloading, and sends Retry / Requeue as POSTs carrying the CSRF header the API requires.
(function () {
  "use strict";
  var body = document.body;
  var pollMs = parseInt(body.dataset.pollMs, 10) || 1000;
  var csrfHeader = body.dataset.csrfHeader || "X-Requested-With";
  var sectionsUrl = body.dataset.sectionsUrl || "/dashboard/sections";
  var container = document.getElementById("sections");
  var state = document.getElementById("refresh-state");
  var flash = document.getElementById("flash");
  var timer = null;
  var inFlight = false;

  function headers() {
    var h = {"Accept": "text/html"};
    h[csrfHeader] = "prosaas-dashboard";
    return h;
  }

  var flashTimer = null;

  function showFlash(text, isError) {
    flash.textContent = text;
    flash.className = isError ? "flash error" : "flash";
    flash.hidden = false;
    window.clearTimeout(flashTimer);
    flashTimer = window.setTimeout(function () { flash.hidden = true; }, isError ? 15000 : 6000);
  }

  // Replace only the sections whose HTML changed, so a button under the pointer survives a refresh.
  function swap(html) {
    var next = document.createElement("template");
    next.innerHTML = html;
    next.content.querySelectorAll("[data-section]").forEach(function (fresh) {
      var name = fresh.getAttribute("data-section");
      var current = container.querySelector('[data-section="' + name + '"]');
      if (current && current.outerHTML !== fresh.outerHTML) {
        current.replaceWith(fresh);
      }
    });
  }

  function refresh() {
    if (inFlight) { return Promise.resolve(); }
    inFlight = true;
    return fetch(sectionsUrl, {headers: headers(), credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (response.status === 401 || response.status === 403) {
          window.location.assign("/dashboard/login");
          return;
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text().then(function (html) {
          swap(html);
          state.textContent = "live";
          state.className = "refresh";
        });
      })
      .catch(function (error) {
        state.textContent = "offline (" + error.message + ")";
        state.className = "refresh error";
      })
      .finally(function () { inFlight = false; });
  }

  function act(button) {
    button.disabled = true;
    var label = button.dataset.label || "";
    fetch(button.dataset.url, {method: "POST", headers: headers(), credentials: "same-origin"})
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.ok) {
            showFlash(button.dataset.action + " " + label + ": " + (button.dataset.done || "queued again"), false);
          } else {
            showFlash(button.dataset.action + " " + label + " failed: " + (data.description || data.title ||
                      response.status), true);
            button.disabled = false;
          }
        });
      })
      .catch(function (error) {
        showFlash(button.dataset.action + " " + label + " failed: " + error.message, true);
        button.disabled = false;
      })
      .then(refresh);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (button && container.contains(button)) {
      event.preventDefault();
      act(button);
    }
  });

  function schedule() {
    timer = window.setTimeout(function () { refresh().then(schedule); }, pollMs);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { window.clearTimeout(timer); refresh().then(schedule); }
  });
  schedule();
})();

// Small helpers for the server-rendered pages: copy buttons, confirmations, live updates.
(function () {
  "use strict";

  function announce(button, text) {
    var status = document.querySelector(".copy-status");
    if (status) { status.textContent = text; }
    var original = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = original; }, 1500);
  }

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "absolute";
      area.style.left = "-9999px";
      document.body.appendChild(area);
      area.select();
      var ok = document.execCommand("copy");
      document.body.removeChild(area);
      if (ok) { resolve(); } else { reject(new Error("copy refused")); }
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) { return; }
    copyText(source.textContent.trim()).then(
      function () { announce(button, "Copied to the clipboard."); },
      function () { announce(button, "Copying failed: select the text and copy it by hand."); }
    );
  });

  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });

  function liveTable() {
    var box = document.getElementById("jobs-table");
    var toggle = document.getElementById("auto-update");
    if (!box || !toggle) { return; }
    setInterval(function () {
      if (!toggle.checked || document.hidden || box.contains(document.activeElement)) { return; }
      fetch(box.getAttribute("data-live"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          // Replace only on a change, so focus, selection and screen readers are left alone otherwise.
          if (html !== null && html !== box.getAttribute("data-last")) {
            box.setAttribute("data-last", html);
            box.innerHTML = html;
          }
        })
        .catch(function () { /* the next tick tries again */ });
    }, 5000);
  }

  function reloadWhileRunning() {
    var marker = document.querySelector("[data-reload-after]");
    if (!marker) { return; }
    var seconds = parseFloat(marker.getAttribute("data-reload-after")) || 3;
    setTimeout(function () { window.location.reload(); }, seconds * 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    liveTable();
    reloadWhileRunning();
  });
})();

// Latchkey hosted pages: progressive enhancement only. Every page works
// without this script.
(function () {
  "use strict";

  // Password visibility toggles: <button data-toggle-password="ID" hidden>.
  document.querySelectorAll("[data-toggle-password]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-toggle-password"));
    if (!input) {
      return;
    }
    button.hidden = false;
    button.setAttribute("aria-label", "Show password");
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? "Hide" : "Show";
      button.setAttribute("aria-pressed", show ? "true" : "false");
      button.setAttribute("aria-label", show ? "Hide password" : "Show password");
      input.focus();
    });
  });

  // Forms marked data-submit-once ignore a second submission (double
  // clicks). Buttons are not disabled, so their name/value still post.
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-submitting") === "true") {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-submitting", "true");
      form.setAttribute("aria-busy", "true");
      form.querySelectorAll("input[type=password]").forEach(function (input) {
        input.type = "password";
      });
    });
  });

  // Coming back through the browser's history restores a submitted form
  // from the back/forward cache: let it be submitted again.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submitting]").forEach(function (form) {
      form.removeAttribute("data-submitting");
      form.removeAttribute("aria-busy");
    });
  });
})();

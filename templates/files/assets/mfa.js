// Latchkey MFA: security keys as a second factor on the MFA pages and the
// account page. The buttons carry data-api (the page's JSON endpoints:
// api + "/begin", api + "/finish") and data-state (the login flow, or ""
// on the account page). Without WebAuthn the buttons stay hidden.
(function () {
  "use strict";

  // The WebAuthn JSON helpers live in passkey.js (loaded on every page,
  // before this script); without them the buttons stay hidden.
  var webauthn = window.LatchkeyWebAuthn;
  var supported = !!(webauthn && webauthn.supported);
  var creationOptions = webauthn ? webauthn.creationOptions : null;
  var requestOptions = webauthn ? webauthn.requestOptions : null;
  var credentialJSON = webauthn ? webauthn.credentialJSON : null;

  function call(api, path, body) {
    return fetch(api + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (data) {
        if (!resp.ok) {
          var err = new Error((data && data.error_description) || "Something went wrong. Please try again.");
          err.code = (data && data.error) || "server_error";
          throw err;
        }
        return data;
      });
    });
  }

  function showError(msg) {
    var el = document.getElementById("mfa-error");
    if (el) {
      el.textContent = msg;
      el.hidden = false;
    }
  }

  function run(button, ceremony) {
    var api = button.getAttribute("data-api");
    var state = button.getAttribute("data-state") || "";
    button.disabled = true;
    call(api, "/begin", { state: state }).then(function (begun) {
      return ceremony(begun.publicKey).then(function (cred) {
        return call(api, "/finish", { state: state, ceremony: begun.ceremony, credential: credentialJSON(cred) });
      });
    }).then(function (done) {
      window.location.assign((done && done.redirect) || window.location.href);
    }).catch(function (err) {
      button.disabled = false;
      if (err && (err.name === "NotAllowedError" || err.name === "AbortError")) {
        showError("The security key request was cancelled or timed out. Try again.");
        return;
      }
      showError((err && err.message) || "Something went wrong. Please try again.");
    });
  }

  function init() {
    var buttons = document.querySelectorAll("[data-mfa-login], [data-mfa-register]");
    Array.prototype.forEach.call(buttons, function (button) {
      if (!supported) {
        button.hidden = true;
        return;
      }
      var login = button.hasAttribute("data-mfa-login");
      button.addEventListener("click", function () {
        run(button, function (publicKey) {
          return login
            ? navigator.credentials.get({ publicKey: requestOptions(publicKey) })
            : navigator.credentials.create({ publicKey: creationOptions(publicKey) });
        });
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

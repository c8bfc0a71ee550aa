// Latchkey MFA: security keys as a second factor on the MFA pages and the
// account page. The buttons carry data-api (the page's JSON endpoints:
// api + "/begin", api + "/finish") and data-state (the login flow, or ""
// on the account page). Without WebAuthn the buttons stay hidden.
(function () {
  "use strict";

  var supported = !!(window.PublicKeyCredential && navigator.credentials &&
    typeof navigator.credentials.create === "function" && typeof navigator.credentials.get === "function");

  function b64urlToBuffer(s) {
    var b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) {
      b64 += "=";
    }
    var bin = atob(b64);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }

  function bufferToB64url(buf) {
    var bytes = new Uint8Array(buf);
    var bin = "";
    for (var i = 0; i < bytes.length; i++) {
      bin += String.fromCharCode(bytes[i]);
    }
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      var out = { type: d.type, id: b64urlToBuffer(d.id) };
      if (d.transports) {
        out.transports = d.transports;
      }
      return out;
    });
  }

  function creationOptions(json) {
    if (typeof PublicKeyCredential.parseCreationOptionsFromJSON === "function") {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuffer(json.challenge);
    o.user = Object.assign({}, json.user, { id: b64urlToBuffer(json.user.id) });
    o.excludeCredentials = descriptors(json.excludeCredentials);
    return o;
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuffer(json.challenge);
    o.allowCredentials = descriptors(json.allowCredentials);
    return o;
  }

  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") {
      return cred.toJSON();
    }
    var r = cred.response;
    var response = { clientDataJSON: bufferToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bufferToB64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
    } else {
      response.authenticatorData = bufferToB64url(r.authenticatorData);
      response.signature = bufferToB64url(r.signature);
      if (r.userHandle) {
        response.userHandle = bufferToB64url(r.userHandle);
      }
    }
    return {
      id: cred.id,
      rawId: bufferToB64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: typeof cred.getClientExtensionResults === "function" ? cred.getClientExtensionResults() : {},
      response: response
    };
  }

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

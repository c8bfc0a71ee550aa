// Latchkey passkeys: the pages' side of the ceremony JSON API
// (docs/passkeys-api.md). Progressive enhancement: without WebAuthn (or
// without this script) the pages keep their password forms.
(function () {
  "use strict";

  var supported = !!(window.PublicKeyCredential && navigator.credentials &&
    typeof navigator.credentials.create === "function" && typeof navigator.credentials.get === "function");

  // --- base64url and the WebAuthn JSON helpers (with fallbacks) -----------

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
    if (json.excludeCredentials) {
      o.excludeCredentials = descriptors(json.excludeCredentials);
    }
    return o;
  }

  function requestOptions(json) {
    if (typeof PublicKeyCredential.parseRequestOptionsFromJSON === "function") {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    var o = Object.assign({}, json);
    o.challenge = b64urlToBuffer(json.challenge);
    if (json.allowCredentials) {
      o.allowCredentials = descriptors(json.allowCredentials);
    }
    return o;
  }

  // credentialJSON is credential.toJSON(), or its equivalent built by hand
  // (WebAuthn L3 §5.1.10, §5.1.11).
  function credentialJSON(cred) {
    if (typeof cred.toJSON === "function") {
      return cred.toJSON();
    }
    var r = cred.response;
    var response = { clientDataJSON: bufferToB64url(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = bufferToB64url(r.attestationObject);
      response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
      if (typeof r.getAuthenticatorData === "function") {
        response.authenticatorData = bufferToB64url(r.getAuthenticatorData());
      }
      if (typeof r.getPublicKeyAlgorithm === "function") {
        response.publicKeyAlgorithm = r.getPublicKeyAlgorithm();
      }
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
      authenticatorAttachment: cred.authenticatorAttachment || undefined,
      clientExtensionResults: typeof cred.getClientExtensionResults === "function" ? cred.getClientExtensionResults() : {},
      response: response
    };
  }

  // The helpers above, for the pages' other scripts (mfa.js: security keys
  // as a second factor), so there is one copy of them.
  window.LatchkeyWebAuthn = Object.freeze({
    supported: supported,
    creationOptions: creationOptions,
    requestOptions: requestOptions,
    credentialJSON: credentialJSON
  });

  // --- the API ------------------------------------------------------------

  function ApiError(status, body) {
    this.name = "ApiError";
    this.status = status;
    this.code = (body && body.error) || "server_error";
    this.message = (body && body.error_description) || "Something went wrong. Please try again.";
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
          throw new ApiError(resp.status, data);
        }
        return data;
      });
    });
  }

  // login runs login/begin → navigator.credentials.get → login/finish and
  // follows the redirect. mediation is "conditional" (autofill) or
  // undefined (modal).
  function login(cfg, email, mediation, signal) {
    var body = { state: cfg.state };
    if (email) {
      body.email = email;
    }
    return call(cfg.api, "/login/begin", body).then(function (begun) {
      var opts = { publicKey: requestOptions(begun.publicKey) };
      if (mediation) {
        opts.mediation = mediation;
      }
      if (signal) {
        opts.signal = signal;
      }
      return navigator.credentials.get(opts).then(function (cred) {
        return call(cfg.api, "/login/finish", { state: cfg.state, ceremony: begun.ceremony, credential: credentialJSON(cred) });
      });
    }).then(function (done) {
      window.location.assign(done.redirect);
    });
  }

  // register runs register/begin → navigator.credentials.create →
  // register/finish.
  function register(cfg, body) {
    return call(cfg.api, "/register/begin", body).then(function (begun) {
      return navigator.credentials.create({ publicKey: creationOptions(begun.publicKey) }).then(function (cred) {
        var finish = { ceremony: begun.ceremony, credential: credentialJSON(cred) };
        if (body.state) {
          finish.state = body.state;
        }
        return call(cfg.api, "/register/finish", finish);
      });
    });
  }

  // message turns a failure into words for people, or "" when nothing
  // should be shown (the person cancelled, or we aborted).
  function message(err, creating) {
    if (err instanceof ApiError) {
      return err.message;
    }
    switch (err && err.name) {
      case "AbortError":
        return "";
      case "NotAllowedError":
        return creating ? "The passkey was not created: the request was cancelled or timed out. Try again." :
          "The passkey request was cancelled or timed out. Try again.";
      case "InvalidStateError":
        return creating ? "This device already has a passkey for this account." : "This passkey cannot be used here.";
      case "SecurityError":
        return "This page cannot use passkeys (its address is not allowed for this application).";
      default:
        return "Something went wrong with the passkey. Try again.";
    }
  }

  function showError(root, text) {
    var box = root.querySelector("[data-passkey-error], .passkey-error") || document.getElementById("passkey-error");
    if (!box) {
      return;
    }
    box.textContent = text;
    box.hidden = !text;
  }

  function config(el) {
    return { api: el.getAttribute("data-api") || "", state: el.getAttribute("data-state") || "" };
  }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute("aria-busy", on ? "true" : "false");
  }

  // --- pages --------------------------------------------------------------

  // The password login form reports whether this browser can create a
  // passkey, so the server only offers one when it can.
  document.querySelectorAll("input[data-passkey-capable]").forEach(function (input) {
    input.value = supported ? "1" : "";
  });

  // Sign-up: browsers that can create passkeys get the passkey-first form
  // (email, then "Create a passkey"); others keep the password.
  document.querySelectorAll("form[data-passkey-signup]").forEach(function (form) {
    if (!supported) {
      return;
    }
    var method = form.querySelector("[data-passkey-method]");
    var field = form.querySelector("[data-password-field]");
    if (!method || !field) {
      return;
    }
    method.value = "passkey";
    field.hidden = true;
    field.querySelectorAll("input").forEach(function (input) {
      input.disabled = true;
    });
  });

  // Login: autofill (conditional mediation) and the passkey button.
  document.querySelectorAll("[data-passkey-login]").forEach(function (root) {
    if (!supported) {
      return;
    }
    var cfg = config(root);
    var pending = null; // the AbortController of the conditional request

    function startAutofill() {
      if (!root.hasAttribute("data-autofill") || typeof PublicKeyCredential.isConditionalMediationAvailable !== "function") {
        return;
      }
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) {
          return;
        }
        var controller = new AbortController();
        pending = controller;
        login(cfg, "", "conditional", controller.signal).catch(function (err) {
          // An aborted or rejected autofill is not an error for the person;
          // a refused passkey (the server's answer) is.
          if (err instanceof ApiError && !controller.signal.aborted) {
            showError(root, err.message);
          }
        });
      }).catch(function () {});
    }

    root.querySelectorAll("[data-passkey-only]").forEach(function (el) {
      el.hidden = false;
    });
    var button = root.querySelector("[data-passkey-button]");
    if (button) {
      button.addEventListener("click", function () {
        // A modal request cannot start while the conditional one is
        // pending: abort it first, and ignore its AbortError.
        if (pending) {
          pending.abort();
          pending = null;
        }
        showError(root, "");
        busy(button, true);
        login(cfg, "", undefined, undefined).catch(function (err) {
          busy(button, false);
          showError(root, message(err, false));
          startAutofill();
        });
      });
    }
    startAutofill();
  });

  // Email first: the user's passkeys.
  document.querySelectorAll("[data-passkey-step]").forEach(function (root) {
    var button = root.querySelector("[data-passkey-step-button]");
    if (!button) {
      return;
    }
    if (!supported) {
      button.hidden = true;
      root.querySelectorAll("[data-passkey-unsupported]").forEach(function (el) { el.hidden = false; });
      return;
    }
    var cfg = config(root);
    button.addEventListener("click", function () {
      showError(root, "");
      busy(button, true);
      login(cfg, root.getAttribute("data-email") || "", undefined, undefined).catch(function (err) {
        busy(button, false);
        showError(root, message(err, false));
      });
    });
  });

  // "Create a passkey": sign-up, and the offers after a login.
  document.querySelectorAll("[data-passkey-create]").forEach(function (root) {
    var passwordURL = root.getAttribute("data-password-url");
    if (!supported) {
      if (passwordURL) {
        window.location.replace(passwordURL);
        return;
      }
      root.querySelectorAll("button").forEach(function (b) { b.hidden = true; });
      root.querySelectorAll("[data-passkey-unsupported]").forEach(function (el) { el.hidden = false; });
      return;
    }
    var cfg = config(root);
    var other = root.querySelector("[data-passkey-other]");
    if (other) {
      other.addEventListener("click", function () {
        var panel = document.getElementById(other.getAttribute("aria-controls"));
        var open = other.getAttribute("aria-expanded") !== "true";
        other.setAttribute("aria-expanded", open ? "true" : "false");
        if (panel) {
          panel.hidden = !open;
          var first = panel.querySelector("button, a");
          if (open && first) {
            first.focus();
          }
        }
      });
    }
    root.querySelectorAll("[data-passkey-create-button]").forEach(function (button) {
      button.addEventListener("click", function () {
        var body = { state: cfg.state, hint: button.getAttribute("data-hint") || "" };
        var email = root.getAttribute("data-email");
        if (email && root.getAttribute("data-variant") === "signup") {
          body.email = email;
        }
        showError(root, "");
        busy(button, true);
        register(cfg, body).then(function (done) {
          window.location.assign(done.redirect);
        }).catch(function (err) {
          busy(button, false);
          showError(root, message(err, true));
        });
      });
    });
  });

  // The account page's "Add a passkey".
  document.querySelectorAll("[data-passkey-account]").forEach(function (root) {
    var button = root.querySelector("[data-passkey-add]");
    if (!button) {
      return;
    }
    if (!supported) {
      root.querySelectorAll("[data-passkey-unsupported]").forEach(function (el) { el.hidden = false; });
      return;
    }
    button.hidden = false;
    var cfg = config(root);
    button.addEventListener("click", function () {
      showError(document, "");
      busy(button, true);
      register(cfg, { hint: "" }).then(function () {
        var u = new URL(window.location.href);
        u.searchParams.set("done", "added");
        window.location.assign(u.toString());
      }).catch(function (err) {
        busy(button, false);
        showError(document, message(err, true));
      });
    });
  });
})();

// Passkeys (WebAuthn) for staff: add one on /web/staff/passkeys, use one at sign-in.
// The server sends the ceremony options as JSON (py_webauthn's options_to_json); the answer
// goes back in a hidden field of an ordinary form post, with the form's CSRF token.
"use strict";
(function () {
  var supported = !!(window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON);

  function options(form, url) {
    var body = new FormData();
    body.append("csrf", form.elements.csrf.value);
    return fetch(url, { method: "POST", body: body, credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function show(form, message) {
    var box = form.querySelector("#passkey-error");
    box.textContent = message;
    box.hidden = false;
  }

  var add = document.getElementById("passkey-add");
  if (add) {
    add.addEventListener("submit", function (event) {
      if (add.elements.credential.value) return; // the answer is in: post it
      event.preventDefault();
      if (!supported) return show(add, add.dataset.unsupported);
      options(add, add.dataset.options)
        .then(function (json) {
          var publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(json);
          return navigator.credentials.create({ publicKey: publicKey });
        })
        .then(function (credential) {
          add.elements.credential.value = JSON.stringify(credential.toJSON());
          add.submit();
        })
        .catch(function () { show(add, add.dataset.failed); });
    });
  }

  var button = document.getElementById("passkey-login");
  if (button && supported) {
    var login = document.getElementById("login-form");
    button.hidden = false;
    button.addEventListener("click", function () {
      if (!login.reportValidity()) return; // name and password first
      options(login, button.dataset.options)
        .then(function (json) {
          var publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(json);
          return navigator.credentials.get({ publicKey: publicKey });
        })
        .then(function (credential) {
          login.elements.passkey.value = JSON.stringify(credential.toJSON());
          login.submit();
        })
        .catch(function () { show(login, button.dataset.failed); });
    });
  }
})();

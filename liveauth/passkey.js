// localauth-passkeys.js: the passkey ceremonies of the live pages.
// Hand-written, no build step, no outside service.
//
// A button with data-passkey="login" (sign in, or the second step of a
// login) or data-passkey="register" (add a passkey on the account page)
// starts a ceremony: the script fetches its options from the JSON API,
// asks the browser (navigator.credentials.get or .create), and hands the
// answer to the tab by filling the hidden form the button names in
// data-passkey-form and submitting it, which sends the tab an event as any
// live form does. Nothing secret is kept here: the options carry only the
// challenge the browser must sign.
(() => {
  "use strict";

  const tokenKey = "_auth_token";

  function b64urlToBytes(s) {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bytesToB64url(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  // The API's options are JSON with base64url strings where WebAuthn wants
  // bytes.
  function creationOptions(o) {
    const pk = Object.assign({}, o.publicKey);
    pk.challenge = b64urlToBytes(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: b64urlToBytes(pk.user.id) });
    pk.excludeCredentials = (pk.excludeCredentials || []).map((c) => Object.assign({}, c, { id: b64urlToBytes(c.id) }));
    return { publicKey: pk };
  }

  function requestOptions(o) {
    const pk = Object.assign({}, o.publicKey);
    pk.challenge = b64urlToBytes(pk.challenge);
    pk.allowCredentials = (pk.allowCredentials || []).map((c) => Object.assign({}, c, { id: b64urlToBytes(c.id) }));
    const opts = { publicKey: pk };
    if (o.mediation) opts.mediation = o.mediation;
    return opts;
  }

  function credentialJSON(c) {
    const r = c.response;
    const out = {
      id: c.id,
      rawId: bytesToB64url(c.rawId),
      type: c.type,
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: bytesToB64url(r.clientDataJSON) },
    };
    if (r.attestationObject) {
      out.response.attestationObject = bytesToB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = bytesToB64url(r.authenticatorData);
      out.response.signature = bytesToB64url(r.signature);
      if (r.userHandle) out.response.userHandle = bytesToB64url(r.userHandle);
    }
    return JSON.stringify(out);
  }

  // api posts to the JSON API. In LocalStorage mode the session token is
  // in storage and goes as a Bearer header; in cookie mode the HttpOnly
  // cookie goes by itself.
  async function api(path) {
    const headers = { "Content-Type": "application/json" };
    const tok = localStorage.getItem(tokenKey) || sessionStorage.getItem(tokenKey);
    if (tok) headers.Authorization = "Bearer " + tok;
    const res = await fetch("/api/auth/" + path, { method: "POST", headers, body: "{}", credentials: "same-origin" });
    let body = {};
    try {
      body = await res.json();
    } catch (e) {}
    return { status: res.status, body };
  }

  function say(btn, text) {
    const el = document.getElementById(btn.dataset.passkeyStatus || "");
    if (el) {
      el.textContent = text;
      el.hidden = text === "";
    }
  }

  function submit(formID, fields) {
    const form = document.getElementById(formID);
    if (!form) return;
    for (const [k, v] of Object.entries(fields)) {
      const input = form.querySelector('input[name="' + k + '"]');
      if (input) input.value = v;
    }
    form.requestSubmit();
  }

  async function ceremony(btn) {
    const kind = btn.dataset.passkey;
    say(btn, "");
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say(btn, "This browser does not support passkeys.");
      return;
    }
    const begin = await api(kind === "register" ? "passkeys/register/begin" : "passkeys/login/begin");
    if (begin.status === 403 && begin.body.error === "reauth_required") {
      submit(btn.dataset.passkeyReauth, {});
      return;
    }
    if (begin.status !== 200) {
      say(btn, begin.body.message || "Passkeys are not available right now.");
      return;
    }
    let cred;
    try {
      cred = kind === "register"
        ? await navigator.credentials.create(creationOptions(begin.body))
        : await navigator.credentials.get(requestOptions(begin.body));
    } catch (e) {
      say(btn, "The passkey was not used. You can try again.");
      return;
    }
    if (!cred) return;
    const fields = { credential: credentialJSON(cred) };
    const name = document.getElementById(btn.dataset.passkeyName || "");
    if (name) fields.name = name.value;
    const shared = document.getElementById("shared");
    if (kind === "login" && shared && shared.checked) fields.shared = "yes";
    submit(btn.dataset.passkeyForm, fields);
  }

  function start(btn) {
    btn.disabled = true;
    ceremony(btn).finally(() => {
      btn.disabled = false;
    });
  }

  document.addEventListener("click", (e) => {
    const btn = e.target.closest("button[data-passkey]");
    if (!btn || btn.disabled) return;
    e.preventDefault();
    start(btn);
  });

  // A ceremony that had to wait for the password carries on by itself: an
  // element with data-passkey-resume (naming the button) shows a counter the
  // server moves on once the password is confirmed, and each new value
  // starts the ceremony again. The first value a page shows is where it
  // starts from, not a request.
  let resumeSeen = null;
  new MutationObserver(() => {
    const el = document.querySelector("[data-passkey-resume]");
    if (!el) return;
    const v = el.textContent;
    if (v === "" || v === resumeSeen) return;
    const first = resumeSeen === null;
    resumeSeen = v;
    const btn = document.getElementById(el.dataset.passkeyResume);
    if (!first && btn && !btn.disabled) start(btn);
  }).observe(document.documentElement, { subtree: true, childList: true, characterData: true });
})();

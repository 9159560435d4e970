// live.js: the page side of localauth's live runtime. Hand-written, no build
// step. It keeps a websocket to /_live, sends the tab's route and LocalStorage
// values on connect (never in a URL), applies the state the server sends to
// the DOM through data- attributes, sends events, and performs the server's
// client actions.
//
// Bindings (expressions are "sub.var", "sub.var.field", "!expr" and
// "expr && expr"):
//   data-text="auth.authenticated_user.display_name"  textContent (never HTML)
//   data-show="expr" / data-hide="expr"                hidden attribute
//   data-value="expr"                                  an input's value
//   data-disabled="expr"                               disabled property
//   data-src="sub.var"                                 an <img>'s src: a data:image/png URL or a local path
//   data-on-submit="login.on_submit"                   a form's fields as an event
//   data-on-click="auth.do_logout"                     a click as an event
//   data-on-mount="login.redir"                        an event each time the element is shown
//   data-each="account.sessions"                       one copy of the element's <template> per
//                                                      item of a list; inside a copy:
//     data-item-text="device"                          the item's field as textContent
//     data-item-show="current" / data-item-hide="..."  hidden attribute from the item's field
//     data-on-click="x.y" data-item-field="id"         a click as an event carrying the item's field
(() => {
  "use strict";

  const state = {};
  const pending = new Map(); // event id -> callback when done
  const queue = []; // messages waiting for hydration
  let ws = null;
  let nextID = 1;
  let hydrated = false;
  let everConnected = false;
  let backoff = 500;
  let pingTimer = null;
  // leaving is true while the page is about to be replaced (a redirect, a
  // link whose event runs first): mounts then would act on a page that is
  // going away.
  let leaving = false;
  // chain runs the actions of successive updates one after another.
  let chain = Promise.resolve();

  const localKeys = (() => {
    try {
      return JSON.parse(document.documentElement.dataset.liveLocal || "[]");
    } catch (e) {
      return [];
    }
  })();

  // --- values kept for the browser session --------------------------------
  //
  // A value the server asked to keep for this browser session only (see
  // Tab.SessionStorage) is in the tab's sessionStorage, which the browser
  // forgets when it closes but also keeps apart per tab. So that it still
  // reaches every open tab of the site, a tab that has none asks the open
  // ones over a BroadcastChannel (same origin only, never the server) before
  // it says hello, and one that holds it answers. The LocalStorage flag
  // sharedFlag, holding no value, says that some tab held one: without it a
  // tab does not ask, so a first visit waits for nothing; with it a tab
  // waits up to askWait for an answer, and none means the tabs that held it
  // are gone (the flag is then dropped). A value removed in one tab (a
  // logout) is removed from the others too.
  const sharedFlag = "live.session_shared";
  const askWait = 3000;
  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("live.session") : null;
  let answered = null; // the pending ask's resolve

  function sessionValues() {
    const values = {};
    for (const k of localKeys) {
      const v = sessionStorage.getItem(k);
      if (v !== null) values[k] = v;
    }
    return values;
  }

  if (channel) {
    channel.onmessage = (e) => {
      const m = e.data;
      if (!m || typeof m !== "object") return;
      if (m.t === "ask") {
        const values = sessionValues();
        if (Object.keys(values).length > 0) channel.postMessage({ t: "give", values });
      } else if (m.t === "give" && answered && m.values && typeof m.values === "object") {
        for (const k of localKeys) {
          if (typeof m.values[k] === "string") sessionStorage.setItem(k, m.values[k]);
        }
        answered();
      } else if (m.t === "drop" && localKeys.includes(m.key) && sessionStorage.getItem(m.key) === m.value) {
        sessionStorage.removeItem(m.key);
      }
    };
  }

  // fromOtherTabs settles once the tab has what its open siblings keep for
  // the browser session, or knows there is nothing to wait for.
  const fromOtherTabs = (() => {
    const stored = (k) => localStorage.getItem(k) !== null || sessionStorage.getItem(k) !== null;
    if (!channel || localStorage.getItem(sharedFlag) === null || localKeys.length === 0 || localKeys.some(stored)) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        answered = null;
        localStorage.removeItem(sharedFlag);
        resolve();
      }, askWait);
      answered = () => {
        answered = null;
        clearTimeout(timer);
        resolve();
      };
      channel.postMessage({ t: "ask" });
    });
  })();

  function root() {
    return document.getElementById("live-root");
  }

  function status(text) {
    const el = document.getElementById("live-status");
    if (!el) return;
    el.textContent = text;
    el.hidden = text === "";
    document.documentElement.classList.toggle("live-offline", text !== "");
  }

  // --- connection ----------------------------------------------------------

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(proto + "//" + location.host + "/_live");
    const sock = ws;
    ws.onopen = () => fromOtherTabs.then(() => {
      if (ws !== sock || sock.readyState !== WebSocket.OPEN) return;
      backoff = 500;
      const local = {};
      for (const k of localKeys) {
        // A value the server asked to keep for this browser session only
        // is in sessionStorage.
        const v = localStorage.getItem(k) ?? sessionStorage.getItem(k);
        if (v !== null) local[k] = v;
      }
      const id = nextID++;
      pending.set(id, (ok) => {
        // Only an answered hello on the socket still open hydrates the
        // page: a hello refused, or one whose socket closed before the
        // reply was applied, leaves it offline until the next connection.
        if (!ok || ws !== sock || sock.readyState !== WebSocket.OPEN) return;
        hydrated = true;
        everConnected = true;
        status("");
        document.documentElement.classList.add("live-hydrated");
        while (queue.length) ws.send(JSON.stringify(queue.shift()));
        refresh();
      });
      ws.send(JSON.stringify({ t: "hello", id, route: location.pathname, query: location.search, local }));
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (ws && ws.readyState === WebSocket.OPEN) ws.send('{"t":"ping"}');
      }, 25000);
    });
    ws.onmessage = (m) => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      receive(msg);
    };
    ws.onclose = () => {
      clearInterval(pingTimer);
      hydrated = false;
      document.documentElement.classList.remove("live-hydrated");
      for (const done of pending.values()) done(false);
      pending.clear();
      if (everConnected) status("Connection lost. Reconnecting…");
      const wait = backoff + Math.random() * backoff * 0.5;
      backoff = Math.min(backoff * 2, 15000);
      setTimeout(connect, wait);
    };
  }

  function send(msg, done) {
    msg.id = nextID++;
    if (done) pending.set(msg.id, done);
    if (hydrated && ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(msg));
    } else {
      queue.push(msg);
    }
  }

  function receive(msg) {
    if (msg.t === "update") {
      if (msg.delta) {
        for (const sub of Object.keys(msg.delta)) {
          state[sub] = Object.assign(state[sub] || {}, msg.delta[sub]);
        }
      }
      const actions = msg.actions || [];
      if (actions.some((a) => a.do === "redirect")) leaving = true;
      refresh();
      // Actions run in order; a post finishes before the next action.
      chain = chain.then(async () => {
        for (const a of actions) await act(a);
        if (msg.done && pending.has(msg.id)) {
          const done = pending.get(msg.id);
          pending.delete(msg.id);
          done(true);
        }
      });
    } else if (msg.t === "error") {
      if (msg.id && pending.has(msg.id)) {
        const done = pending.get(msg.id);
        pending.delete(msg.id);
        done(false);
      }
      if (window.console) console.warn("live:", msg.error, msg.message);
    }
  }

  // --- actions -------------------------------------------------------------

  async function act(a) {
    switch (a.do) {
      case "redirect":
        await navigate(a.to, true);
        break;
      case "post":
        if (!isLocalPath(a.to)) break;
        try {
          await fetch(a.to, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: a.value || "{}",
            credentials: "same-origin",
          });
        } catch (e) {
          if (window.console) console.warn("live: post failed", e);
        }
        break;
      case "set_value": {
        const el = document.getElementById(a.id);
        if (el) el.value = a.value || "";
        break;
      }
      case "focus": {
        const el = document.getElementById(a.id);
        if (el) el.focus();
        break;
      }
      case "local_set":
        if (!localKeys.includes(a.key)) break;
        if (a.session) {
          sessionStorage.setItem(a.key, a.value);
          localStorage.removeItem(a.key);
          localStorage.setItem(sharedFlag, "1");
        } else {
          localStorage.setItem(a.key, a.value);
          sessionStorage.removeItem(a.key);
        }
        break;
      case "local_remove":
        if (localKeys.includes(a.key)) {
          const held = sessionStorage.getItem(a.key);
          localStorage.removeItem(a.key);
          sessionStorage.removeItem(a.key);
          if (held !== null) {
            localStorage.removeItem(sharedFlag);
            if (channel) channel.postMessage({ t: "drop", key: a.key, value: held });
          }
        }
        break;
    }
  }

  // isLocalPath accepts only a path on this origin: one leading "/", not
  // followed by "/" or "\", no control characters.
  function isLocalPath(p) {
    return typeof p === "string" && /^\/(?![\/\\])[^\x00-\x1f\x7f\\]*$/.test(p);
  }

  // navigate swaps in the page at path without reloading, keeping the socket
  // and the tab's state; the server learns the new route with a "nav".
  async function navigate(path, push) {
    if (!isLocalPath(path)) {
      leaving = false;
      return;
    }
    leaving = true;
    let res;
    try {
      res = await fetch(path, { headers: { "X-Live-Navigate": "1" }, credentials: "same-origin" });
    } catch (e) {
      location.assign(path);
      return;
    }
    const url = new URL(res.url || path, location.href);
    if (url.origin !== location.origin) {
      leaving = false;
      return;
    }
    const html = await res.text();
    const doc = new DOMParser().parseFromString(html, "text/html");
    const next = doc.getElementById("live-root");
    if (!next) {
      location.assign(url.pathname + url.search);
      return;
    }
    document.title = doc.title;
    root().replaceWith(document.adoptNode(next));
    const target = url.pathname + url.search;
    if (push) history.pushState({}, "", target);
    else history.replaceState({}, "", target);
    wire();
    leaving = false;
    send({ t: "nav", route: url.pathname, query: url.search }, () => refresh());
    refresh();
  }

  window.addEventListener("popstate", () => navigate(location.pathname + location.search, false));

  // --- bindings ------------------------------------------------------------

  function lookup(path) {
    let v = state;
    for (const part of path.trim().split(".")) {
      if (v === null || v === undefined) return undefined;
      v = v[part];
    }
    return v;
  }

  function truthy(v) {
    return !(v === undefined || v === null || v === false || v === "" || v === 0);
  }

  function evaluate(expr) {
    return expr.split("&&").every((term) => {
      term = term.trim();
      let neg = false;
      while (term.startsWith("!")) {
        neg = !neg;
        term = term.slice(1).trim();
      }
      const v = truthy(lookup(term));
      return neg ? !v : v;
    });
  }

  function visible(el) {
    for (let e = el; e; e = e.parentElement) {
      if (e.hidden) return false;
    }
    return true;
  }

  function refresh() {
    const r = root();
    if (!r) return;
    for (const el of r.querySelectorAll("[data-text]")) {
      const v = lookup(el.dataset.text);
      el.textContent = v === undefined || v === null ? "" : String(v);
    }
    for (const el of r.querySelectorAll("[data-show]")) el.hidden = !evaluate(el.dataset.show);
    for (const el of r.querySelectorAll("[data-hide]")) el.hidden = evaluate(el.dataset.hide);
    for (const el of r.querySelectorAll("[data-value]")) {
      const v = lookup(el.dataset.value);
      if (document.activeElement !== el) el.value = v === undefined || v === null ? "" : String(v);
    }
    for (const el of r.querySelectorAll("[data-disabled]")) el.disabled = evaluate(el.dataset.disabled);
    for (const el of r.querySelectorAll("img[data-src]")) {
      const v = lookup(el.dataset.src);
      const src = typeof v === "string" && (v.startsWith("data:image/png;base64,") || isLocalPath(v)) ? v : "";
      if (src === "") el.removeAttribute("src");
      else if (el.getAttribute("src") !== src) el.setAttribute("src", src);
    }
    for (const el of r.querySelectorAll("[data-each]")) renderList(el);
    if (!hydrated || leaving) return;
    // data-on-mount fires each time its element is shown, like a component
    // that mounts when a condition renders it.
    for (const el of r.querySelectorAll("[data-on-mount]")) {
      const shown = visible(el);
      if (shown && !el.liveMounted) {
        el.liveMounted = true;
        send({ t: "event", name: el.dataset.onMount, fields: {} });
      } else if (!shown) {
        el.liveMounted = false;
      }
    }
  }

  // renderList fills el with one copy of its <template> per item of the
  // list its data-each names, rebuilding only when the list changed.
  function renderList(el) {
    const tpl = el.querySelector(":scope > template");
    if (!tpl) return;
    const items = lookup(el.dataset.each);
    const list = Array.isArray(items) ? items : [];
    const key = JSON.stringify(list);
    if (el.liveRendered === key) return;
    el.liveRendered = key;
    for (const child of Array.from(el.children)) {
      if (child !== tpl) child.remove();
    }
    for (const item of list) {
      const copy = tpl.content.cloneNode(true);
      const field = (name) => {
        const v = item === null || typeof item !== "object" ? undefined : item[name.trim()];
        return v === undefined || v === null ? "" : v;
      };
      for (const e of copy.querySelectorAll("[data-item-text]")) e.textContent = String(field(e.dataset.itemText));
      for (const e of copy.querySelectorAll("[data-item-show]")) e.hidden = !truthy(field(e.dataset.itemShow));
      for (const e of copy.querySelectorAll("[data-item-hide]")) e.hidden = truthy(field(e.dataset.itemHide));
      for (const e of copy.querySelectorAll("[data-on-click][data-item-field]")) {
        const name = e.dataset.itemField;
        const value = String(field(name));
        e.addEventListener("click", (ev) => {
          ev.preventDefault();
          send({ t: "event", name: e.dataset.onClick, fields: { [name]: value } });
        });
        e.liveWired = true;
      }
      el.appendChild(copy);
    }
  }

  // --- events --------------------------------------------------------------

  function fieldsOf(form) {
    const fields = {};
    for (const [k, v] of new FormData(form).entries()) {
      if (typeof v === "string") fields[k] = v;
    }
    return fields;
  }

  function wire() {
    const r = root();
    if (!r) return;
    for (const form of r.querySelectorAll("form[data-on-submit]")) {
      form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (form.classList.contains("live-busy")) return;
        form.classList.add("live-busy");
        for (const b of form.querySelectorAll("button")) b.disabled = true;
        send({ t: "event", name: form.dataset.onSubmit, fields: fieldsOf(form) }, () => {
          form.classList.remove("live-busy");
          for (const b of form.querySelectorAll("button")) b.disabled = false;
          refresh();
        });
      });
    }
    for (const el of r.querySelectorAll("[data-on-click]")) {
      if (el.liveWired || el.closest("[data-each]")) continue; // list items wire themselves
      el.addEventListener("click", (e) => {
        e.preventDefault();
        const href = el.getAttribute("href");
        if (href) leaving = true;
        send({ t: "event", name: el.dataset.onClick, fields: {} }, (ok) => {
          if (href) navigate(href, true);
        });
      });
    }
  }

  // In-app links navigate without a reload.
  document.addEventListener("click", (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest("a[href]");
    if (!a || a.target || a.hasAttribute("download") || a.dataset.onClick) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/_") || url.pathname.startsWith("/api/")) return;
    e.preventDefault();
    navigate(url.pathname + url.search, true);
  });

  function start() {
    wire();
    refresh();
    connect();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

/*
 * TrackMint browser snippet: collects page views, custom events, identities and (optionally)
 * clicks and form submits, and sends them in Segment's format to a TrackMint HTTP bridge.
 *
 * Plain ES2017 with no dependencies. Served minified by the bridge at /sdk/trackmint.js.
 * Usage and the loader snippet: sdk/js/README.md.
 */
(function (window, document) {
  "use strict";

  const VERSION = "0.1.0";
  const PREFIX = "trackmint_";
  const SESSION_MS = 30 * 60 * 1000;
  const MAX_QUEUE = 1000;
  // Browsers cap the bodies of all in-flight keepalive requests and beacons of a page at 64 KiB.
  const MAX_BEACON_BYTES = 60000;
  const MAX_RETRY_MS = 5 * 60 * 1000;
  const CLICKABLE = "a,button,[role=button],input[type=submit],input[type=button]";
  const SECRET_FIELD = /pass|card|cc.?(num|number|exp)|cvc|cvv|csc|ssn|social.?sec|token|secret|iban/i;
  const UTM = { utm_source: "source", utm_medium: "medium", utm_campaign: "name", utm_term: "term", utm_content: "content" };
  const DEFAULT_CAPTURE = { pageviews: true, clicks: false, forms: false, form_values: false };

  const previous = window.trackmint;
  if (previous && previous.__trackmint) return; // loaded twice: keep the first instance

  // ---------- storage: localStorage, or a first-party cookie where it is unavailable ----------

  let useCookie = false;
  let cookieDomain = "";

  function localStore() {
    try {
      const s = window.localStorage;
      s.setItem(PREFIX + "t", "1");
      s.removeItem(PREFIX + "t");
      return s;
    } catch (e) {
      return null;
    }
  }

  const local = localStore();

  function getCookie(key) {
    const match = document.cookie.match(new RegExp("(?:^|; )" + PREFIX + key + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }

  function setCookie(key, value, maxAge) {
    let cookie = PREFIX + key + "=" + encodeURIComponent(value) + "; path=/; max-age=" + maxAge + "; SameSite=Lax";
    if (cookieDomain) cookie += "; domain=" + cookieDomain;
    if (location.protocol === "https:") cookie += "; Secure";
    document.cookie = cookie;
  }

  // Small values (ids, flags) may live in a cookie; the queue only ever in localStorage.
  const store = {
    get(key) {
      if (!useCookie && local) return local.getItem(PREFIX + key);
      return getCookie(key);
    },
    set(key, value) {
      if (!useCookie && local) {
        try {
          local.setItem(PREFIX + key, value);
        } catch (e) {
          // quota exceeded: the value lives for this page only
        }
      } else {
        setCookie(key, value, 365 * 24 * 3600);
      }
    },
    del(key) {
      if (local) local.removeItem(PREFIX + key);
      if (getCookie(key) !== null) setCookie(key, "", 0);
    },
  };

  function getJSON(key, fallback) {
    try {
      const raw = local && local.getItem(PREFIX + key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) {
      return fallback;
    }
  }

  function setJSON(key, value) {
    if (!local) return;
    try {
      if (value === null) local.removeItem(PREFIX + key);
      else local.setItem(PREFIX + key, JSON.stringify(value));
    } catch (e) {
      // quota exceeded: the queue stays in memory only
    }
  }

  function session(key) {
    try {
      return window.sessionStorage.getItem(PREFIX + key);
    } catch (e) {
      return null;
    }
  }

  function setSession(key, value) {
    try {
      window.sessionStorage.setItem(PREFIX + key, value);
    } catch (e) {
      // private mode: fetch again next page
    }
  }

  // ---------- ids and context ----------

  function uuid() {
    const c = window.crypto;
    if (c && c.randomUUID) return c.randomUUID();
    const b = new Uint8Array(16);
    if (c && c.getRandomValues) c.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function now() {
    return new Date().toISOString();
  }

  function campaign() {
    const params = new URLSearchParams(location.search);
    const found = {};
    let any = false;
    for (const key in UTM) {
      const value = params.get(key);
      if (value) {
        found[UTM[key]] = value;
        any = true;
      }
    }
    return any ? found : null;
  }

  function timezone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (e) {
      return undefined;
    }
  }

  // ---------- state ----------

  const options = {
    apiHost: "",
    flushAt: 20,
    flushInterval: 1000,
    retryDelay: 1000,
    respectDNT: true,
    remoteConfig: true,
    autocapture: {},
  };
  let writeKey = null;
  let queue = []; // waiting to be sent (persisted with the in-flight ones)
  let inflight = []; // sent, not yet acknowledged
  let flushTimer = null;
  let retryTimer = null;
  let sending = false;
  let capture = Object.assign({}, DEFAULT_CAPTURE);
  let lastPath = null;
  let currentUrl = null;
  // The page before this one: document.referrer, then the previous URL of a single-page app.
  let referrer = document.referrer || "";
  let listening = false;

  function disabled() {
    if (store.get("optout") === "1") return true;
    const dnt = navigator.doNotTrack || window.doNotTrack || navigator.msDoNotTrack;
    return options.respectDNT !== false && (dnt === "1" || dnt === "yes");
  }

  function anonymousId() {
    let id = store.get("anonymous_id");
    if (!id) {
      id = uuid();
      store.set("anonymous_id", id);
    }
    return id;
  }

  // A session ends after 30 minutes without events; the last activity time is stored with it.
  function sessionId() {
    const t = Date.now();
    let current = null;
    try {
      current = JSON.parse(store.get("session") || "null");
    } catch (e) {
      current = null;
    }
    if (!current || !current.id || t - current.last > SESSION_MS) current = { id: uuid(), last: t };
    current.last = t;
    store.set("session", JSON.stringify(current));
    return current.id;
  }

  function traits() {
    try {
      return JSON.parse(store.get("traits") || "{}") || {};
    } catch (e) {
      return {};
    }
  }

  function persist() {
    const pending = inflight.concat(queue);
    // Tagged with the write key: another project's snippet on the same site must not send these.
    setJSON("queue", pending.length ? { writeKey: writeKey, messages: pending } : null);
  }

  // ---------- messages ----------

  function enqueue(type, fields) {
    if (!writeKey || disabled()) return;
    const message = Object.assign(
      {
        type: type,
        messageId: uuid(),
        anonymousId: anonymousId(),
        sessionId: sessionId(),
        timestamp: now(),
        context: context(),
      },
      fields
    );
    const userId = store.get("user_id");
    if (userId && !message.userId) message.userId = userId;
    queue.push(message);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE);
    persist();
    if (queue.length >= options.flushAt) flush();
    else if (!flushTimer) flushTimer = setTimeout(flush, options.flushInterval);
  }

  function context() {
    const ctx = {
      page: pageContext(),
      userAgent: navigator.userAgent,
      locale: navigator.language,
      timezone: timezone(),
      library: { name: "trackmint.js", version: VERSION },
    };
    const utm = campaign();
    if (utm) ctx.campaign = utm;
    return ctx;
  }

  function pageContext() {
    return {
      url: location.href,
      path: location.pathname,
      referrer: referrer,
      title: document.title,
      search: location.search,
    };
  }

  function plain(value) {
    return value && typeof value === "object" && !Array.isArray(value) ? value : {};
  }

  // ---------- sending ----------

  function endpoint() {
    return options.apiHost.replace(/\/+$/, "") + "/v1/batch";
  }

  function body(batch) {
    const sentAt = now();
    batch.forEach((m) => {
      m.sentAt = sentAt;
    });
    return JSON.stringify({ batch: batch, sentAt: sentAt, writeKey: writeKey });
  }

  function flush() {
    clearTimeout(flushTimer);
    flushTimer = null;
    if (sending || retryTimer || !queue.length || !writeKey) return;
    if (disabled()) {
      queue = [];
      persist();
      return;
    }
    const batch = queue.splice(0, 100);
    inflight = batch;
    sending = true;
    const payload = body(batch);
    fetch(endpoint(), {
      method: "POST",
      // text/plain keeps this a CORS-simple request: no preflight
      headers: { "Content-Type": "text/plain" },
      body: payload,
      credentials: "omit",
      keepalive: payload.length < MAX_BEACON_BYTES,
    })
      .then(answered, () => failed(null));
  }

  function answered(response) {
    const status = response.status;
    if (status === 408 || status === 429 || status >= 500) return failed(response);
    // Any other refusal is of the batch itself (bad key, malformed): resending it would not help.
    if (!response.ok) console.warn("trackmint: batch refused with HTTP " + status);
    delivered();
  }

  function delivered() {
    sending = false;
    inflight = [];
    setJSON("retry", null);
    persist();
    if (queue.length >= options.flushAt) flush();
    else if (queue.length && !flushTimer) flushTimer = setTimeout(flush, options.flushInterval);
  }

  function failed(response) {
    sending = false;
    queue = inflight.concat(queue);
    inflight = [];
    persist();
    const attempts = (getJSON("retry", {}).attempts || 0) + 1;
    let delay = Math.min(options.retryDelay * Math.pow(2, attempts - 1), MAX_RETRY_MS) * (0.8 + Math.random() * 0.4);
    const after = response && Number(response.headers.get("Retry-After"));
    if (after > 0) delay = Math.max(delay, after * 1000);
    setJSON("retry", { attempts: attempts, at: Date.now() + delay });
    scheduleRetry(delay);
  }

  function scheduleRetry(delay) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      retryTimer = null;
      flush();
    }, Math.max(0, delay));
  }

  // On page hide the fetch would be cancelled: hand what is left to the browser with sendBeacon.
  function beacon() {
    if (!writeKey || !queue.length || disabled() || !navigator.sendBeacon) return;
    const sent = [];
    let chunk = [];
    let size = 0;
    const send = () => {
      const ok = !chunk.length || navigator.sendBeacon(endpoint(), new Blob([body(chunk)], { type: "text/plain" }));
      if (ok) sent.push.apply(sent, chunk);
      chunk = [];
      size = 0;
      return ok;
    };
    for (const message of queue) {
      const length = JSON.stringify(message).length;
      // Two chunks fit the browser's quota; past it sendBeacon refuses and the rest stays stored.
      if (chunk.length && size + length > MAX_BEACON_BYTES / 2 && !send()) break;
      chunk.push(message);
      size += length;
    }
    send();
    // A beacon is fire-and-forget. While sends are failing it likely fails too, so the events stay
    // stored for the next page to resend (the server drops duplicates by messageId); otherwise what
    // the browser accepted is no longer kept.
    if (retryTimer) return;
    queue = queue.filter((m) => sent.indexOf(m) < 0);
    persist();
  }

  // ---------- autocapture ----------

  function configure(remote) {
    const given = options.autocapture;
    capture = Object.assign({}, DEFAULT_CAPTURE, plain(remote), plain(given));
    if (given === false) capture = { pageviews: false, clicks: false, forms: false, form_values: false };
    if (!listening) {
      listening = true;
      document.addEventListener("click", onClick, true);
      document.addEventListener("submit", onSubmit, true);
      watchHistory();
    }
    if (capture.pageviews) trackPageview();
  }

  function loadConfig() {
    const cacheKey = "config_" + writeKey;
    const cached = session(cacheKey);
    if (cached) {
      try {
        return configure(JSON.parse(cached));
      } catch (e) {
        // fetch again
      }
    }
    if (!options.remoteConfig) return configure({});
    const url = options.apiHost.replace(/\/+$/, "") + "/v1/config?writeKey=" + encodeURIComponent(writeKey);
    fetch(url, { credentials: "omit" })
      .then((response) => (response.ok ? response.json() : {}))
      .then((config) => {
        const remote = plain(config && config.autocapture);
        setSession(cacheKey, JSON.stringify(remote));
        configure(remote);
      })
      .catch(() => configure({}));
  }

  function trackPageview() {
    if (location.pathname === lastPath) return;
    lastPath = location.pathname;
    if (currentUrl) referrer = currentUrl;
    currentUrl = location.href;
    api.page();
  }

  function watchHistory() {
    const onChange = () => setTimeout(() => capture.pageviews && trackPageview(), 0);
    ["pushState", "replaceState"].forEach((name) => {
      const original = history[name];
      history[name] = function () {
        const result = original.apply(this, arguments);
        onChange();
        return result;
      };
    });
    window.addEventListener("popstate", onChange);
  }

  function ignored(element) {
    return element.closest("[data-trackmint-ignore]") !== null;
  }

  function selector(element) {
    const parts = [];
    for (let el = element; el && el.nodeType === 1 && parts.length < 5; el = el.parentElement) {
      let part = el.tagName.toLowerCase();
      if (el.id) {
        parts.unshift(part + "#" + el.id);
        break;
      }
      const cls = (el.getAttribute("class") || "").trim().split(/\s+/).filter(Boolean).slice(0, 2);
      if (cls.length) part += "." + cls.join(".");
      parts.unshift(part);
    }
    return parts.join(" > ");
  }

  function onClick(event) {
    if (!capture.clicks || !event.target || !event.target.closest) return;
    const element = event.target.closest(CLICKABLE);
    if (!element || ignored(element)) return;
    const text = (element.tagName === "INPUT" ? element.value : element.innerText || element.textContent) || "";
    const properties = {
      $event_type: "click",
      tag: element.tagName.toLowerCase(),
      text: text.replace(/\s+/g, " ").trim().slice(0, 255),
      classes: (element.getAttribute("class") || "").trim().split(/\s+/).filter(Boolean),
      selector: selector(element),
    };
    if (element.id) properties.id = element.id;
    if (element.href) properties.href = element.href;
    api.track("$autocapture", properties);
  }

  function secret(field) {
    const name = field.name || "";
    const type = (field.type || "").toLowerCase();
    const autocomplete = field.getAttribute("autocomplete") || "";
    return type === "password" || type === "hidden" || type === "file" || SECRET_FIELD.test(name) ||
      /^cc-|password/.test(autocomplete);
  }

  function formValues(form) {
    const values = {};
    Array.from(form.elements).forEach((field) => {
      if (!field.name || field.disabled || secret(field) || ignored(field)) return;
      const type = (field.type || "").toLowerCase();
      if (type === "submit" || type === "button" || type === "reset") return;
      if ((type === "checkbox" || type === "radio") && !field.checked) return;
      let value = field.value;
      if (type === "select-multiple") value = Array.from(field.selectedOptions, (o) => o.value);
      if (field.name in values && type === "checkbox") value = [].concat(values[field.name], value);
      values[field.name] = value;
    });
    return values;
  }

  function onSubmit(event) {
    const form = event.target;
    if (!capture.forms || !form || form.tagName !== "FORM" || ignored(form)) return;
    const properties = capture.form_values ? formValues(form) : {};
    // The form's own attributes win over fields that happen to share their names.
    // getAttribute, because a field named "id" or "action" shadows the form's properties.
    properties.form_id = form.getAttribute("id") || null;
    properties.form_name = form.getAttribute("name") || null;
    properties.form_action = new URL(form.getAttribute("action") || "", location.href).href;
    properties.form_method = (form.getAttribute("method") || "get").toLowerCase();
    api.track("form_submit", properties);
  }

  // ---------- public API ----------

  const api = {
    __trackmint: true,
    VERSION: VERSION,

    init(key, config) {
      if (writeKey) return api;
      if (!key) throw new Error("trackmint.init: a write key is required");
      Object.assign(options, config || {});
      if (!options.apiHost) {
        const script = document.currentScript || document.querySelector("script[src*='/sdk/trackmint']");
        options.apiHost = script ? new URL(script.src, location.href).origin : location.origin;
      }
      useCookie = options.persistence === "cookie";
      cookieDomain = options.cookieDomain || "";
      writeKey = key;
      if (disabled()) return api;
      const stored = getJSON("queue", null);
      queue = stored && stored.writeKey === key && Array.isArray(stored.messages) ? stored.messages : [];
      const retry = getJSON("retry", null);
      if (retry && retry.at > Date.now()) scheduleRetry(retry.at - Date.now());
      else if (queue.length) flushTimer = setTimeout(flush, 0);
      const hide = () => beacon();
      document.addEventListener("visibilitychange", () => document.visibilityState === "hidden" && hide());
      window.addEventListener("pagehide", hide);
      loadConfig();
      return api;
    },

    track(event, properties) {
      if (!event) return;
      enqueue("track", { event: String(event), properties: plain(properties) });
    },

    page(name, properties) {
      if (name && typeof name === "object") {
        properties = name;
        name = undefined;
      }
      const fields = { properties: Object.assign({}, pageContext(), plain(properties)) };
      if (name) fields.name = String(name);
      enqueue("page", fields);
    },

    identify(userId, userTraits) {
      if (userId && typeof userId === "object") {
        userTraits = userId;
        userId = null;
      }
      if (userId) store.set("user_id", String(userId));
      const merged = Object.assign(traits(), plain(userTraits));
      store.set("traits", JSON.stringify(merged));
      enqueue("identify", { traits: merged });
    },

    // A new visitor on this device: forget the user, traits, anonymous and session ids.
    reset() {
      ["user_id", "traits", "anonymous_id", "session"].forEach(store.del);
    },

    optOut() {
      store.set("optout", "1");
      queue = [];
      persist();
    },

    optIn() {
      store.del("optout");
    },

    hasOptedOut() {
      return store.get("optout") === "1";
    },

    flush() {
      flush();
    },

    getAnonymousId() {
      return anonymousId();
    },

    getUserId() {
      return store.get("user_id");
    },

    getSessionId() {
      let current = null;
      try {
        current = JSON.parse(store.get("session") || "null");
      } catch (e) {
        current = null;
      }
      return current ? current.id : null;
    },

    push(call) {
      if (!Array.isArray(call) || typeof api[call[0]] !== "function" || call[0] === "push") return;
      return api[call[0]].apply(api, call.slice(1));
    },
  };

  window.trackmint = api;
  // Calls made before the script loaded, through the loader's stub queue: init first.
  if (Array.isArray(previous)) {
    const calls = previous.slice();
    calls.filter((c) => c && c[0] === "init").forEach(api.push);
    calls.filter((c) => c && c[0] !== "init").forEach(api.push);
  }
})(window, document);

// A gateway client over the WebSocket protocol (protocol.md §2-3): waits for
// `connect.challenge`, sends `connect` (token, and a signed device when the browser has one),
// then `request()` answers by id and `on(event)` delivers events. Reconnects with backoff
// unless the gateway refused the credentials.

import { signConnect } from "./device.js";

export const CLIENT = { id: "openclaw-control-ui", mode: "ui", version: "0.1.0", platform: "web" };
export const SCOPES = ["operator.admin", "operator.read", "operator.write", "operator.approvals", "operator.pairing"];

export class RequestError extends Error {
  constructor(error) {
    super(error?.message || "request failed");
    this.code = error?.code;
    this.details = error?.details;
  }
}

export class GatewayClient {
  constructor({ url, token, device, onState }) {
    this.url = url;
    this.token = token;
    this.device = device;
    this.onState = onState;
    this.pending = new Map();
    this.listeners = new Map();
    this.nextId = 1;
    this.backoff = 500;
    this.stopped = false;
    this.hello = null;
  }

  on(event, fn) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(fn);
    return () => this.listeners.get(event).delete(fn);
  }

  emit(event, payload) {
    for (const fn of this.listeners.get(event) || []) {
      try { fn(payload); } catch (e) { console.error(e); }
    }
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    this.ws?.close(1000, "bye");
  }

  open() {
    this.onState({ state: "connecting" });
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onmessage = (m) => this.frame(m.data);
    ws.onclose = (e) => {
      for (const { reject } of this.pending.values()) reject(new RequestError({ message: "connection closed" }));
      this.pending.clear();
      this.hello = null;
      if (this.ws !== ws) return;
      if (this.refused) {
        this.onState({ state: "refused", error: this.refused });
        return;
      }
      this.onState({ state: "closed", code: e.code, reason: e.reason });
      if (!this.stopped) {
        setTimeout(() => this.open(), this.backoff);
        this.backoff = Math.min(this.backoff * 2, 15000);
      }
    };
  }

  async frame(data) {
    let f;
    try { f = JSON.parse(data); } catch { return; }
    if (f.type === "event" && f.event === "connect.challenge") {
      await this.connect(f.payload);
    } else if (f.type === "event") {
      this.emit(f.event, f.payload);
      this.emit("*", f);
    } else if (f.type === "res") {
      const p = this.pending.get(f.id);
      if (!p) return;
      this.pending.delete(f.id);
      if (f.ok) p.resolve(f.payload); else p.reject(new RequestError(f.error));
    }
  }

  async connect(challenge) {
    const params = {
      minProtocol: 4, maxProtocol: 4,
      client: { ...CLIENT },
      role: "operator",
      scopes: SCOPES,
      caps: [],
      userAgent: navigator.userAgent,
      locale: navigator.language,
    };
    if (this.token) params.auth = { token: this.token };
    if (this.device) {
      try {
        params.device = await signConnect(this.device, {
          clientId: CLIENT.id, clientMode: CLIENT.mode, role: "operator", scopes: SCOPES,
          signedAt: challenge?.ts ?? Date.now(), token: this.token, nonce: challenge?.nonce ?? "",
          platform: CLIENT.platform, deviceFamily: "",
        });
      } catch (e) { console.warn("cannot sign connect", e); }
    }
    try {
      const hello = await this.request("connect", params);
      this.hello = hello;
      this.refused = null;
      this.backoff = 500;
      this.onState({ state: "connected", hello });
    } catch (e) {
      const auth = /unauthorized|token|password|pairing|device/i.test(e.message);
      if (auth) this.refused = e.message;
      this.onState({ state: "error", error: e.message });
    }
  }

  request(method, params = {}) {
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      if (this.ws?.readyState !== WebSocket.OPEN) {
        reject(new RequestError({ message: "not connected" }));
        return;
      }
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ type: "req", id, method, params }));
    });
  }
}

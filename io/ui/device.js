// The browser's device identity (errata "Device identity"): an Ed25519 key pair made with
// WebCrypto, the private key non-extractable, kept in IndexedDB. `id` is the lowercase hex
// SHA-256 of the raw 32-byte public key; the public key and signatures travel base64url.

const DB = "openclaw-control-ui";
const STORE = "device";

function b64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function tx(db, mode, fn) {
  return new Promise((resolve, reject) => {
    const t = db.transaction(STORE, mode);
    const req = fn(t.objectStore(STORE));
    t.oncomplete = () => resolve(req.result);
    t.onerror = () => reject(t.error);
  });
}

/** The stored key pair, or a new one; `null` where WebCrypto Ed25519 is unavailable (an
 *  insecure origin, an old browser): the UI then connects without a device. */
export async function loadDevice() {
  if (!globalThis.crypto?.subtle || !globalThis.indexedDB) return null;
  try {
    const db = await openDb();
    let pair = await tx(db, "readonly", (s) => s.get("ed25519"));
    if (!pair) {
      pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
      await tx(db, "readwrite", (s) => s.put(pair, "ed25519"));
    }
    const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
    const id = hex(await crypto.subtle.digest("SHA-256", raw));
    return { id, publicKey: b64url(raw), privateKey: pair.privateKey };
  } catch (e) {
    console.warn("device identity unavailable", e);
    return null;
  }
}

/** The v3 string of the errata. */
export function v3Payload({ deviceId, clientId, clientMode, role, scopes, signedAt, token, nonce, platform, deviceFamily }) {
  const norm = (s) => (s || "").trim().toLowerCase();
  return ["v3", deviceId, clientId, clientMode, role, scopes.join(","), String(signedAt), token || "", nonce, norm(platform), norm(deviceFamily)].join("|");
}

/** `connect.params.device` for this challenge. */
export async function signConnect(device, fields) {
  const payload = v3Payload({ ...fields, deviceId: device.id });
  const sig = await crypto.subtle.sign({ name: "Ed25519" }, device.privateKey, new TextEncoder().encode(payload));
  return { id: device.id, publicKey: device.publicKey, signature: b64url(sig), signedAt: fields.signedAt, nonce: fields.nonce };
}

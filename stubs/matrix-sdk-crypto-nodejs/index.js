"use strict";
// matrix-bot-sdk requires this module at load time but only uses it for encrypted rooms.
// Every export is a class that refuses to be used, so encryption fails loudly, never silently.
const message =
  "Junction is built without Matrix end-to-bridge encryption (the crypto bindings are a stub); " +
  "link unencrypted rooms, or see the README section on encryption.";
function unavailable() {
  throw new Error(message);
}
const cache = new Map();
module.exports = new Proxy({}, {
  get(_target, key) {
    if (key === "__esModule") return false;
    if (typeof key !== "string") return undefined;
    if (!cache.has(key)) {
      const Stub = class { constructor() { unavailable(); } };
      for (const m of ["initialize", "withSledBackend", "encrypt", "decrypt"]) Stub[m] = unavailable;
      cache.set(key, Stub);
    }
    return cache.get(key);
  },
});

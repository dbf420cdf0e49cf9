// Prints the ClientCapabilities that vscode-languageclient (the version in node_modules) sends,
// with the extension's client options: `node tests/lsp/capabilities/dump-vscode.cjs > tests/lsp/capabilities/vscode.json`.
// The `vscode` module exists only inside VS Code; a stand-in whose every property is a callable,
// constructible proxy is enough to build a LanguageClient and compute its capabilities.
const Module = require("module");
const path = require("path");

const VSCODE_VERSION = "1.100.0"; // package.json engines.vscode

function stub(name) {
  const fn = function () {
    return stub(name + "()");
  };
  return new Proxy(fn, {
    get(_t, p) {
      if (p === Symbol.toPrimitive) return () => name;
      if (p === "then") return undefined;
      if (p === Symbol.iterator) return function* () {};
      if (p === "version") return VSCODE_VERSION; // vscode.version: LanguageClient checks it
      return stub(name + "." + String(p));
    },
    construct() {
      return stub("new " + name);
    },
    apply() {
      return stub(name + "()");
    },
  });
}

const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === "vscode" ? "vscode" : resolve.call(this, request, ...rest);
};
require.cache.vscode = { id: "vscode", filename: "vscode", loaded: true, exports: stub("vscode") };

const root = path.resolve(__dirname, "../../..");
const main = require.resolve("vscode-languageclient/node", { paths: [root] }); // <package>/lib/node/main.js
const { LanguageClient } = require(main);
const version = require(path.resolve(main, "../../../package.json")).version;

// as in client-vscode/src/extension.ts
const client = new LanguageClient("exo", "Exo", { command: "python" }, {
  documentSelector: [{ scheme: "file", language: "python" }, { scheme: "exo-proc" }, { scheme: "exo-c" }],
  markdown: { isTrusted: false, supportHtml: false },
});
const sorted = (v) =>
  Array.isArray(v) ? v.map(sorted)
  : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]))
  : v;
process.stdout.write(JSON.stringify(sorted({
  capabilities: client.computeClientCapabilities(),
  clientInfo: { name: "Visual Studio Code", version: VSCODE_VERSION },
  generatedFrom: `vscode-languageclient ${version}`,
}), null, 2) + "\n");

// Bundles the extension (and, with --tests, the extension-host tests) with esbuild.
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import * as path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const client = path.resolve(here, "..");
const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  external: ["vscode"],
  sourcemap: "linked",
  logLevel: "warning",
};

await esbuild.build({
  ...common,
  entryPoints: [path.join(client, "src/extension.ts")],
  outfile: path.join(client, "out/extension.js"),
  minify: process.argv.includes("--minify"),
});
if (process.argv.includes("--tests")) {
  await esbuild.build({
    ...common,
    entryPoints: [path.join(client, "test/index.ts")],
    outfile: path.join(client, "out/test/index.js"),
  });
}

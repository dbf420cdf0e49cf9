// Runs the extension in a real VS Code (code-server + Debian Chromium through playwright-core):
//   client     extension-host tests against the stub server (tests/vscode/stub), trusted workspace
//   untrusted  extension-host tests against the real server, untrusted workspace
//   server     extension-host tests against the real server, trusted workspace
//   pyext      extension-host tests: no exo.python; the interpreter follows a stand-in for the
//              Python extension (tests/vscode/fake-python-extension) as its environment changes
//   dom        the packaged .vsix driven through the DOM, with screenshots in artifacts/vscode/
//   install    the .vsix with a bare Python (no exo-lsp, no Exo): the notification's Install
//   venv       the same, with Create Environment (a managed venv in the extension's storage)
//              (both pip-install the bundled wheel and its dependencies: slow, a few minutes)
// Called by e2e.sh, which installs what this needs. Usage: node e2e.mjs [run ...]
// Env: EXO_E2E_FEATURES (server features whose tests run, comma separated, or "all").
import { spawn, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const CODE_SERVER = path.join(ROOT, ".tools/code-server/node_modules/code-server/out/node/entry.js");
const CHROMIUM = process.env.EXO_E2E_CHROMIUM ?? "/usr/bin/chromium";
// The interpreter of the real server (EXO_E2E_PYTHON: another one, e.g. tests/vscode/python for the stub).
const PYTHON = process.env.EXO_E2E_PYTHON ?? path.join(ROOT, ".venv/bin/python");
const STUB_PYTHON = path.join(ROOT, "tests/vscode/python");
const VSIX = path.join(ROOT, "client-vscode/out/exo-lsp.vsix");
const TESTS = path.join(ROOT, "client-vscode/out/test/index.js");
const ARTIFACTS = path.join(ROOT, "artifacts/vscode");
const FEATURES = process.env.EXO_E2E_FEATURES ?? "";
const RUN_TIMEOUT_MS = 240_000;

const RUNS = {
  client: { kind: "exthost", suite: "client", python: STUB_PYTHON, trusted: true },
  untrusted: {
    kind: "exthost",
    suite: "untrusted",
    python: PYTHON,
    trusted: false,
    // A restricted setting: VS Code must ignore it while the workspace is untrusted.
    workspacePython: "/workspace/says/this/python",
  },
  server: { kind: "exthost", suite: "server", python: PYTHON, trusted: true },
  pyext: { kind: "exthost", suite: "pyext", python: STUB_PYTHON, trusted: true, noSetting: true, pythonExtension: true },
  // Starts untrusted; the test grants trust through the UI.
  dom: { kind: "dom", python: PYTHON, trusted: false, userPython: true },
  // A fresh venv without exo-lsp or Exo: as exo.python (user settings) ...
  install: { kind: "setup", action: "Install", trusted: true, bare: "setting" },
  // ... or only as python3 / python3.11 on PATH, no exo.python.
  venv: { kind: "setup", action: "Create Environment", trusted: true, bare: "path" },
};

const results = [];
function report(run, name, ok, ms, error) {
  results.push({ run, name, ok, ms, error });
  const head = `${ok ? "PASS" : "FAIL"} ${run} › ${name}${ms !== undefined ? ` (${ms} ms)` : ""}`;
  console.log(ok ? head : `${head}\n${indent(String(error ?? ""))}`);
}
const indent = (s) => s.split("\n").slice(0, 12).map((l) => `      ${l}`).join("\n");

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function get(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on("error", () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
  });
}

/** A fresh workspace (copy of examples/), user-data and extensions dirs for one run. */
function prepare(name, run) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `exo-e2e-${name}-`));
  const ws = path.join(dir, "examples");
  fs.cpSync(path.join(ROOT, "examples"), ws, { recursive: true, filter: (src) => !src.includes("__pycache__") });
  fs.mkdirSync(path.join(ws, ".vscode"));
  const wsSettings = !run.noSetting && (run.workspacePython || run.python) ? { "exo.python": run.workspacePython ?? run.python } : {};
  fs.writeFileSync(path.join(ws, ".vscode/settings.json"), JSON.stringify(wsSettings, null, 2));
  const userData = path.join(dir, "user-data");
  fs.mkdirSync(path.join(userData, "User"), { recursive: true });
  const user = {
    "security.workspace.trust.enabled": !run.trusted,
    "security.workspace.trust.startupPrompt": "never",
    "workbench.startupEditor": "none",
    "workbench.tips.enabled": false,
    "workbench.enableExperiments": false,
    "telemetry.telemetryLevel": "off",
    "update.mode": "none",
    "extensions.autoUpdate": false,
    "extensions.autoCheckUpdates": false,
    "extensions.ignoreRecommendations": true,
    "git.enabled": false,
    "chat.disableAIFeatures": true,
    "window.restoreWindows": "none",
    "workbench.secondarySideBar.defaultVisibility": "hidden",
    // The JSON-RPC traffic lands in artifacts/vscode/<run>/Exo.log.
    "exo.trace.server": "messages",
    // Exo: Suggest Schedule simulates this many procs (conv1d: a few seconds each here).
    "exo.suggest.budget": 12,
  };
  if (run.workspacePython || run.userPython) {
    user["exo.python"] = run.python;
  }
  fs.writeFileSync(path.join(userData, "User/settings.json"), JSON.stringify(user, null, 2));
  const extensions = path.join(dir, "extensions");
  fs.mkdirSync(extensions);
  const config = path.join(dir, "config.yaml");
  fs.writeFileSync(config, "auth: none\ncert: false\n");
  const out = path.join(ARTIFACTS, name);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  return { dir, ws, userData, extensions, config, out, results: path.join(dir, "results.jsonl") };
}

function codeServerArgs(p, extra = []) {
  return [
    CODE_SERVER,
    "--config", p.config,
    "--auth", "none",
    "--user-data-dir", p.userData,
    "--extensions-dir", p.extensions,
    "--disable-telemetry",
    "--disable-update-check",
    "--disable-getting-started-override",
    ...extra,
  ];
}

function baseEnv(p) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith("VSCODE_") || k === "ELECTRON_RUN_AS_NODE") delete env[k];
  }
  // Keep code-server's own files (default config, logs) out of $HOME.
  env.XDG_CONFIG_HOME = path.join(p.dir, "xdg-config");
  env.XDG_DATA_HOME = path.join(p.dir, "xdg-data");
  env.PATH = `${path.dirname(process.execPath)}:${env.PATH}`;
  return env;
}

/** Starts code-server in its own process group; resolves with a stop function once it answers. */
async function startCodeServer(p, env) {
  const port = await freePort();
  const log = fs.openSync(path.join(p.out, "code-server.log"), "w");
  const child = spawn(
    process.execPath,
    [...codeServerArgs(p, ["--bind-addr", `127.0.0.1:${port}`, "--vscode-option", "enable-smoke-test-driver"])],
    { cwd: p.dir, env, detached: true, stdio: ["ignore", log, log] },
  );
  let exited = false;
  child.on("exit", () => (exited = true));
  const stop = async () => {
    if (!exited) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
      for (let i = 0; i < 30 && !exited; i++) await sleep(100);
    }
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
    fs.closeSync(log);
  };
  const base = `http://127.0.0.1:${port}`;
  const end = Date.now() + 30_000;
  while ((await get(`${base}/healthz`)) !== 200) {
    if (exited || Date.now() > end) {
      await stop();
      throw new Error(`code-server did not start; see ${path.join(p.out, "code-server.log")}`);
    }
    await sleep(100);
  }
  return { base, port, stop };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function launchBrowser(p) {
  return chromium.launchPersistentContext(path.join(p.dir, "chromium"), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Copies the "Exo" output channel and the extension host log next to the screenshots. */
function keepLogs(p) {
  const logs = path.join(p.userData, "logs");
  if (!fs.existsSync(logs)) return;
  for (const file of fs.readdirSync(logs, { recursive: true })) {
    const base = path.basename(file);
    if (/^(\d+-)?Exo\.log$/.test(base) || base === "remoteexthost.log") {
      fs.copyFileSync(path.join(logs, file), path.join(p.out, base.replace(/^\d+-/, "")));
    }
  }
}

async function runExtensionHost(name, run) {
  const p = prepare(name, run);
  if (run.pythonExtension) {
    fs.cpSync(path.join(ROOT, "tests/vscode/fake-python-extension"), path.join(p.extensions, "ms-python.python-0.0.1"), { recursive: true });
  }
  const env = {
    ...baseEnv(p),
    EXO_E2E_SUITE: run.suite,
    EXO_E2E_RESULTS: p.results,
    EXO_E2E_FEATURES: FEATURES,
    EXO_E2E_PYTHON: run.python,
  };
  const server = await startCodeServer(p, env);
  let browser;
  try {
    const remote = (abs) => `vscode-remote://127.0.0.1:${server.port}${abs}`;
    const payload = JSON.stringify([
      ["extensionDevelopmentPath", remote(ROOT)],
      ["extensionTestsPath", remote(TESTS)],
    ]);
    const url = `${server.base}/?folder=${encodeURIComponent(p.ws)}&payload=${encodeURIComponent(payload)}`;
    browser = await launchBrowser(p);
    const page = browser.pages()[0] ?? (await browser.newPage());
    let exitWith;
    const exited = new Promise((resolve) => (exitWith = resolve));
    await page.exposeFunction("codeAutomationExit", (code) => exitWith(code));
    await page.goto(url);
    const timeout = sleep(RUN_TIMEOUT_MS).then(() => "timeout");
    const code = await Promise.race([exited, timeout]);
    await page.screenshot({ path: path.join(p.out, "end.png") }).catch(() => {});
    const seen = fs.existsSync(p.results)
      ? fs.readFileSync(p.results, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l))
      : [];
    for (const r of seen) report(name, r.name, r.ok, r.ms, r.error);
    if (code === "timeout") {
      report(name, "suite finished", false, undefined, `no exit after ${RUN_TIMEOUT_MS} ms; see ${p.out}`);
    } else if (code !== 0 && !seen.some((r) => !r.ok)) {
      report(name, "suite finished", false, undefined, `extension host exit code ${code} (no test failed: the suite did not load or run?)`);
    } else if (seen.length === 0) {
      report(name, "suite finished", false, undefined, "no test results");
    }
  } finally {
    await browser?.close().catch(() => {});
    await server.stop();
    keepLogs(p);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// DOM smoke test of the packaged extension.

const FEATURE_SET = new Set(FEATURES.split(",").map((s) => s.trim()));
const has = (feature) => FEATURE_SET.has("all") || FEATURE_SET.has(feature);

/** A DOM test step: reported by title, with a screenshot of the page when it fails. */
function makeStep(name, p, currentPage) {
  return async (title, fn) => {
    const t0 = Date.now();
    try {
      await fn();
      report(name, title, true, Date.now() - t0);
      return true;
    } catch (e) {
      report(name, title, false, Date.now() - t0, e?.message ?? e);
      await currentPage()?.screenshot({ path: path.join(p.out, `failed-${slug(title)}.png`) }).catch(() => {});
      return false;
    }
  };
}

async function runDom(name, run) {
  const p = prepare(name, run);
  const env = baseEnv(p);
  execFileSync(process.execPath, codeServerArgs(p, ["--install-extension", VSIX]), { env, stdio: "pipe" });
  const server = await startCodeServer(p, env);
  let browser;
  const step = makeStep(name, p, () => page);
  let page;
  try {
    browser = await launchBrowser(p);
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(`${server.base}/?folder=${encodeURIComponent(p.ws)}`);
    const statusItem = page.locator(".statusbar-item", { hasText: /Exo/ }).first();

    const opened = await step("open conv1d.py in an untrusted window: the status bar says untrusted", async () => {
      const row = page.getByRole("treeitem", { name: /^conv1d\.py/ });
      await row.waitFor({ timeout: 60_000 });
      await row.click();
      await page.locator(".tabs-container .tab", { hasText: "conv1d.py" }).first().waitFor({ timeout: 20_000 });
      await statusItem.filter({ hasText: "Exo: untrusted" }).waitFor({ timeout: 60_000 });
      await page.screenshot({ path: path.join(p.out, "untrusted.png") });
    });

    const trusted = opened && await step("trusting the workspace runs the script; the status bar shows the run", async () => {
      await palette(page, "Workspaces: Manage Workspace Trust");
      await page.getByRole("button", { name: "Trust", exact: true }).first().click();
      await statusItem.filter({ hasText: /Exo: (ok|\d+ warnings?|\d+ errors?) · / }).waitFor({ timeout: 90_000 });
      // The trust editor opens as a modal over the workbench: close it.
      const modal = page.locator(".monaco-modal-editor-block");
      await modal.locator('[aria-label^="Close Modal Editor"]').click();
      await modal.waitFor({ state: "hidden", timeout: 10_000 });
      await page.screenshot({ path: path.join(p.out, "status-bar.png") });
    });

    await step("the command palette lists the Exo commands", async () => {
      await page.locator(".monaco-editor .view-lines").first().click();
      await page.keyboard.press("F1");
      const input = page.locator(".quick-input-widget input");
      await input.waitFor({ timeout: 10_000 });
      await input.fill(">Exo:");
      await page.locator(".quick-input-list .monaco-list-row", { hasText: "Restart Server" }).waitFor({ timeout: 10_000 });
      const labels = await page.locator(".quick-input-list .monaco-list-row").allInnerTexts();
      const joined = labels.join("\n");
      for (const title of [
        "Exo: Show Scheduled Proc",
        "Exo: Show Scheduled Proc at Cursor",
        "Exo: Show Generated C",
        "Exo: Diff With Previous Step",
        "Exo: Compile & Simulate",
        "Exo: Suggest Schedule",
        "Exo: Restart Server",
      ]) {
        if (!joined.includes(title)) throw new Error(`palette lacks ${title}; has:\n${joined}`);
      }
      await page.screenshot({ path: path.join(p.out, "command-palette.png") });
      await page.keyboard.press("Escape");
    });

    if (trusted && has("hover")) {
      await step("hover on a pattern string shows the matched code [hover]", async () => {
        // The line away from the viewport's edge (the lenses above each step push it down):
        // going to a line below it scrolls it up.
        const script = fs.readFileSync(path.join(p.ws, "conv1d.py"), "utf8").split("\n");
        await gotoLine(page, script.findIndex((l) => l.includes('divide_loop(p, "for i in _:_"')) + 12);
        await page.mouse.move(5, 5);
        // The `for` inside the pattern string (semantic tokens split the string into spans;
        // Monaco renders spaces as U+00A0, hence \s).
        const line = page.locator(".view-line", { hasText: /divide_loop\(p,\s"for\si\sin\s_:_"/ }).first();
        const token = line.locator("span span", { hasText: /^for$/ }).first();
        await token.hover();
        const hover = page.locator(".monaco-hover:visible").first();
        await hover.waitFor({ timeout: 20_000 });
        const text = await hover.innerText();
        if (!/for i in seq/.test(text)) throw new Error(`hover says: ${text}`);
        await page.screenshot({ path: path.join(p.out, "hover.png") });
        await page.mouse.move(5, 5);
      });
    }

    if (trusted && has("completion")) {
      await step("completion inside a pattern string lists the loops at that step [completion]", async () => {
        // Into the string of the first divide_loop, on its loop name, then ask for suggestions.
        const line = page.locator(".view-line", { hasText: /divide_loop\(p,\s"for\si\sin\s_:_"/ }).first();
        await line.locator("span span", { hasText: /^i$/ }).first().click();
        await page.keyboard.press("Control+Space");
        const widget = page.locator(".suggest-widget.visible");
        await widget.waitFor({ timeout: 20_000 });
        await widget.locator(".monaco-list-row", { hasText: "for j in _:_" }).first().waitFor({ timeout: 20_000 });
        const rows = (await widget.locator(".monaco-list-row").allInnerTexts()).join("\n");
        for (const loop of ["for i in _:_", "for j in _:_", "for c in _:_", "for r in _:_"]) {
          if (!rows.includes(loop)) throw new Error(`suggestions lack ${loop}; have:\n${rows}`);
        }
        await sleep(500); // the details pane renders the selected item's code
        await page.screenshot({ path: path.join(p.out, "completion.png") });
        await page.keyboard.press("Escape");
      });
    }

    if (trusted && has("views")) {
      await step("Exo: Show Scheduled Proc opens the proc beside [views]", async () => {
        await palette(page, "Exo: Show Scheduled Proc");
        await page.locator(".editor-group-container").nth(1).locator(".view-line", { hasText: "def conv1d_rvm(" }).first().waitFor({ timeout: 30_000 });
        await page.screenshot({ path: path.join(p.out, "proc-view.png") });
      });
    }

    if (trusted && has("simulate")) {
      await step("Exo: Compile & Simulate shows the report beside [simulate]", async () => {
        await page.locator(".tabs-container .tab", { hasText: "conv1d.py" }).first().click();
        await palette(page, "Exo: Compile & Simulate");
        await page.locator(".tabs-container .tab", { hasText: "Exo: conv1d_rvm simulation" }).waitFor({ timeout: 120_000 });
        await sleep(1500); // let the webview render for the screenshot
        await page.screenshot({ path: path.join(p.out, "simulation-report.png") });
      });
      await step("after simulating, the generated C shows cycles per line [simulate]", async () => {
        await palette(page, "Exo: Show Generated C");
        // Decorations after a line are CSS ::after content, not DOM text.
        await page.waitForFunction(
          () =>
            [...document.querySelectorAll(".view-line span")].some((e) =>
              /\d+ cycles \(\d+\.\d %\)/.test(getComputedStyle(e, "::after").content),
            ),
          undefined,
          { timeout: 30_000 },
        );
        await page.screenshot({ path: path.join(p.out, "c-view-cycles.png") });
      });
    }

    if (trusted && has("suggest")) {
      // The Suggestions webview: the outer iframe of the visible webview, then its content frame.
      const webview = () => page.locator("iframe.webview").filter({ visible: true }).first().contentFrame().locator("iframe#active-frame").contentFrame();
      const lines = fs.readFileSync(path.join(p.ws, "conv1d.py"), "utf8").split("\n");
      const first = lines.findIndex((l) => l.startsWith("p = rename(")) + 1; // 1-based: the script's first step
      let best = { cycles: 0, text: "" };
      const suggested = await step("Exo: Suggest Schedule from the first step of conv1d ranks next steps [suggest]", async () => {
        await page.locator(".tabs-container .tab", { hasText: "conv1d.py" }).first().click();
        await gotoLine(page, first);
        await palette(page, "Exo: Suggest Schedule");
        await page.locator(".tabs-container .tab", { hasText: "Exo: Suggestions (conv1d.py)" }).waitFor({ timeout: 60_000 });
        const view = webview();
        await view.locator(".status b", { hasText: /^done$/ }).waitFor({ timeout: 600_000 });
        const rows = await view.locator("tr.step").allInnerTexts();
        if (!rows.length) throw new Error("no ranked next steps");
        if (!/[\d,]+ cycles, \d+\.\d\dx\s+bit-exact/.test(rows[0])) throw new Error(`first ranked step: ${rows[0]}`);
        const heads = await view.locator(".schedule h3").allInnerTexts();
        const m = /^1\. ([\d,]+) cycles, (\d+\.\d\d)x over the algorithm, bit-exact$/.exec(heads[0] ?? "");
        if (!m) throw new Error(`best schedule: ${heads[0]}`);
        best = { cycles: Number(m[1].replace(/,/g, "")), text: await view.locator(".schedule pre").first().innerText() };
        if (!(Number(m[2]) > 1)) throw new Error(`not faster: ${heads[0]}`);
        await page.screenshot({ path: path.join(p.out, "suggestions.png") });
      });
      if (suggested) {
        await step("Insert whole schedule: the script runs, and it simulates bit-exact and faster [suggest]", async () => {
          await webview().getByRole("button", { name: "Insert whole schedule" }).first().click();
          const inserted = best.text.replace(/\n$/, "").split("\n");
          const lastLine = first + inserted.length; // 1-based: the schedule's last call
          const want = inserted[inserted.length - 1].replace(/ /g, "\u00a0");
          // the button was clicked in the webview: back to the script's editor, as a user would
          await page.locator(".tabs-container .tab", { hasText: "conv1d.py" }).first().click({ timeout: 10_000 });
          await gotoLine(page, lastLine);
          await page.locator(".view-line", { hasText: want }).first().waitFor({ timeout: 30_000 });
          await statusItem.filter({ hasText: /Exo: (ok|\d+ warnings?) · / }).waitFor({ timeout: 120_000 });
          // the inserted block in view, from its first line (headless, the view stays scrolled
          // right after the edit: the screenshot shows the ends of the inserted lines)
          await gotoLine(page, first);
          await sleep(500);
          await page.screenshot({ path: path.join(p.out, "suggestion-inserted.png") });
          await gotoLine(page, lastLine);
          // Compile & Simulate at the cursor: the proc of that line, conv1d_rvm_searched
          await palette(page, "Exo: Compile & Simulate");
          await page.locator(".tabs-container .tab", { hasText: "Exo: conv1d_rvm_searched simulation" }).waitFor({ timeout: 180_000 });
          await sleep(1500);
          const report = await webview().locator("body").innerText();
          if (!/Speedup: (\d+\.\d\d)x — outputs correct \(bit-exact\)/.test(report)) {
            throw new Error(`report:\n${report.slice(0, 1500)}`);
          }
          // the simulated proc exists only in the edited script: that version ran, without errors
          const problems = await page.locator(".statusbar-item", { hasText: /^\s*\d+\s+\d+\s*$/ }).first().innerText();
          if (!/^\s*0\s+\d+\s*$/.test(problems)) throw new Error(`errors in the problems count: ${problems}`);
          const speed = Number(/Speedup: (\d+\.\d\d)x/.exec(report)[1]);
          if (!(speed > 1)) throw new Error(`speedup ${speed}`);
          const cyc = /cycles\s+([\d,]+)/.exec(report);
          if (!cyc || Number(cyc[1].replace(/,/g, "")) !== best.cycles) throw new Error(`cycles ${cyc?.[1]} != suggested ${best.cycles}`);
          await page.screenshot({ path: path.join(p.out, "suggestion-simulated.png") });
        });
      }
    }

    if (trusted) {
      await step("a missing interpreter shows an error that offers Create Environment", async () => {
        // As if the user pointed exo.python at a Python that is gone.
        fs.writeFileSync(path.join(p.ws, ".vscode/settings.json"), JSON.stringify({ "exo.python": "/nonexistent/bin/python" }));
        await statusItem.filter({ hasText: "Exo: no server" }).waitFor({ timeout: 30_000 });
        // In headless Chromium here the error reached the notification centre but showed no toast:
        // read the centre.
        await palette(page, "Notifications: Show Notifications");
        const center = page.locator(".notifications-center");
        const error = center.locator(".notification-list-item", { hasText: "cannot run the Exo language server" });
        await error.waitFor({ timeout: 10_000 });
        await page.screenshot({ path: path.join(p.out, "missing-python.png") });
        // Nothing to install into; the .vsix carries the wheel, so an environment can be made.
        await error.getByRole("button", { name: "Create Environment", exact: true }).waitFor({ timeout: 5_000 });
        if (await error.getByRole("button", { name: "Install", exact: true }).count()) throw new Error("Install offered for a missing Python");
      });
    }
  } finally {
    await browser?.close().catch(() => {});
    await server.stop();
    keepLogs(p);
  }
  return p;
}

// The palette lists the commands registered when it opens; right after a window loads, some
// (Workspace Trust's) may come later: open it again until the command is there.
async function palette(page, title, timeout = 40_000) {
  const input = page.locator(".quick-input-widget input");
  const row = page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first();
  const deadline = Date.now() + timeout;
  for (;;) {
    await page.keyboard.press("F1");
    await input.waitFor({ timeout: 10_000 });
    await input.fill(`>${title}`);
    try {
      await row.waitFor({ timeout: 5_000 });
      break;
    } catch (e) {
      await page.keyboard.press("Escape");
      if (Date.now() > deadline) throw e;
    }
  }
  await page.keyboard.press("Enter");
}

/** Ctrl+G to a 1-based line of the active editor. */
async function gotoLine(page, line) {
  // the active group's editor when it shows one (the first in the page may be another group's)
  const active = page.locator(".editor-group-container.active .monaco-editor .view-lines");
  await ((await active.count()) ? active : page.locator(".monaco-editor .view-lines")).first().click();
  await page.keyboard.press("Control+G");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ timeout: 10_000 });
  await input.fill(`:${line}`);
  await page.keyboard.press("Enter");
  // back to the left edge: a cursor already in column 1 is not revealed again
  await page.keyboard.press("End");
  await page.keyboard.press("Home");
}

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").slice(0, 60);

// ---------------------------------------------------------------------------------------------
// Installing from the .vsix with a bare Python: one click in the notification, then the script runs.

const SETUP_TIMEOUT_MS = 20 * 60_000;

async function runSetup(name, run) {
  const p = prepare(name, run);
  // A bare interpreter, as a user would have: python3.11 -m venv, nothing installed.
  const bare = path.join(p.dir, "bare");
  execFileSync(process.env.EXO_E2E_BASE_PYTHON ?? "python3.11", ["-m", "venv", bare], { stdio: "pipe" });
  const barePython = path.join(bare, "bin/python");
  const env = baseEnv(p);
  if (run.bare === "setting") {
    const userSettings = path.join(p.userData, "User/settings.json");
    const user = JSON.parse(fs.readFileSync(userSettings, "utf8"));
    user["exo.python"] = barePython;
    fs.writeFileSync(userSettings, JSON.stringify(user, null, 2));
  } else {
    // python3 (the default) and python3.11 (for the new environment) are the bare venv's.
    env.PATH = `${path.join(bare, "bin")}:${env.PATH}`;
  }
  execFileSync(process.execPath, codeServerArgs(p, ["--install-extension", VSIX]), { env, stdio: "pipe" });
  const server = await startCodeServer(p, env);
  let browser;
  let page;
  const step = makeStep(name, p, () => page);
  try {
    browser = await launchBrowser(p);
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(`${server.base}/?folder=${encodeURIComponent(p.ws)}`);
    const statusItem = page.locator(".statusbar-item", { hasText: /Exo/ }).first();
    const center = page.locator(".notifications-center");
    const offer = center.locator(".notification-list-item", { hasText: "cannot run the Exo language server" }).first();

    const offered = await step(`a bare Python: the notification offers ${run.action}`, async () => {
      const row = page.getByRole("treeitem", { name: /^conv1d\.py/ });
      await row.waitFor({ timeout: 60_000 });
      await row.click();
      await statusItem.filter({ hasText: "Exo: no server" }).waitFor({ timeout: 60_000 });
      await palette(page, "Notifications: Show Notifications");
      await offer.waitFor({ timeout: 10_000 });
      const text = await offer.innerText();
      if (!/neither exo-lsp nor Exo \(exo-lang\) is installed/.test(text)) throw new Error(`notification: ${text}`);
      for (const b of ["Install", "Create Environment"]) {
        await offer.getByRole("button", { name: b, exact: true }).waitFor({ timeout: 5_000 });
      }
      await page.screenshot({ path: path.join(p.out, "offer.png") });
    });

    const ran = offered && await step(`${run.action}: pip installs the bundled wheel, then the script runs`, async () => {
      await offer.getByRole("button", { name: run.action, exact: true }).click();
      // The progress notification, while pip runs.
      await sleep(8_000);
      await palette(page, "Notifications: Show Notifications").catch(() => {});
      await page.screenshot({ path: path.join(p.out, "progress.png") });
      await page.keyboard.press("Escape");
      await statusItem.filter({ hasText: /Exo: (ok|\d+ warnings?|\d+ errors?) · / }).waitFor({ timeout: SETUP_TIMEOUT_MS });
      await page.screenshot({ path: path.join(p.out, "running.png") });
    });

    if (ran) {
      await step("the steps are there: Exo: Show Scheduled Proc opens the scheduled proc", async () => {
        await page.locator(".tabs-container .tab", { hasText: "conv1d.py" }).first().click();
        await palette(page, "Exo: Show Scheduled Proc");
        await page.locator(".editor-group-container").nth(1).locator(".view-line", { hasText: "def conv1d_rvm(" }).first().waitFor({ timeout: 60_000 });
        await page.screenshot({ path: path.join(p.out, "proc-view.png") });
      });
      await step("the server runs in the interpreter that was set up", async () => {
        keepLogs(p);
        const log = fs.readFileSync(path.join(p.out, "Exo.log"), "utf8");
        const storage = path.join(p.userData, "User/globalStorage");
        const managed = fs.existsSync(storage)
          ? fs.readdirSync(storage).map((d) => path.join(storage, d, "venv/bin/python")).find((f) => fs.existsSync(f))
          : undefined;
        const expected = run.bare === "setting" ? barePython : managed;
        if (!expected) throw new Error(`no managed environment under ${storage}`);
        const chosen = [...log.matchAll(/\[exo\] interpreter (\S+) \(from ([^)]+)\)/g)].pop();
        if (!chosen || chosen[1] !== expected) throw new Error(`last interpreter line: ${chosen?.[0]}; expected ${expected}`);
        execFileSync(expected, ["-c", "import exo_lsp, exo"], { stdio: "pipe" });
        if (run.bare === "path") {
          // The bare interpreter itself was left alone.
          try {
            execFileSync(barePython, ["-c", "import exo_lsp"], { stdio: "pipe" });
            throw new Error("exo_lsp was installed into the bare interpreter");
          } catch (e) {
            if (String(e?.message).includes("was installed")) throw e;
          }
        }
      });
    }
  } finally {
    await browser?.close().catch(() => {});
    await server.stop();
    keepLogs(p);
  }
  return p;
}

async function main() {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(RUNS);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const temps = [];
  const t0 = Date.now();
  for (const name of names) {
    const run = RUNS[name];
    if (!run) throw new Error(`unknown run ${name}; runs: ${Object.keys(RUNS).join(", ")}`);
    const t = Date.now();
    try {
      const p = await (run.kind === "dom" ? runDom(name, run) : run.kind === "setup" ? runSetup(name, run) : runExtensionHost(name, run));
      temps.push(p.dir);
    } catch (e) {
      report(name, "run", false, Date.now() - t, e?.stack ?? e);
    }
    console.log(`---- ${name}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  if (!process.env.EXO_E2E_KEEP) {
    for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
  }
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`VS Code e2e: ${((Date.now() - t0) / 1000).toFixed(1)} s, features: ${FEATURES || "(none)"}, artifacts in ${path.relative(ROOT, ARTIFACTS)}/`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed || !passed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  console.log("0 passed, 1 failed");
  process.exit(1);
});

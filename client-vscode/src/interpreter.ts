// Which Python runs the server, and whether it can.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PythonExtension, PVSC_EXTENSION_ID } from "@vscode/python-extension";
import * as vscode from "vscode";

/** The Exo release exo-lsp is written against (pyproject.toml pins it too). */
export const REQUIRED_EXO = "1.0.0";

export interface Interpreter {
  path: string;
  /** where the choice came from, for messages */
  source: "exo.python" | "Python extension" | "managed environment" | "default";
}

/** The venv that "Create environment" makes, in the extension's global storage. */
export function managedEnvDir(context: vscode.ExtensionContext): string {
  return path.join(context.globalStorageUri.fsPath, "venv");
}

export function managedPython(context: vscode.ExtensionContext): string {
  const dir = managedEnvDir(context);
  return process.platform === "win32" ? path.join(dir, "Scripts", "python.exe") : path.join(dir, "bin", "python");
}

/**
 * The interpreters to try, in order: `exo.python` alone when it is set (an explicit choice);
 * otherwise the Python extension's active environment, the managed environment if it exists,
 * and `python3` on PATH.
 */
export async function candidateInterpreters(
  context: vscode.ExtensionContext,
  resource?: vscode.Uri,
): Promise<Interpreter[]> {
  const configured = vscode.workspace.getConfiguration("exo", resource).get<string>("python", "").trim();
  if (configured) {
    return [{ path: expandPath(configured, resource), source: "exo.python" }];
  }
  const out: Interpreter[] = [];
  const fromExtension = await pythonExtensionInterpreter(resource);
  if (fromExtension) {
    out.push({ path: fromExtension, source: "Python extension" });
  }
  const managed = managedPython(context);
  if (fs.existsSync(managed)) {
    out.push({ path: managed, source: "managed environment" });
  }
  out.push({ path: process.platform === "win32" ? "python" : "python3", source: "default" });
  return out;
}

/** The first candidate that can run the server; else the first candidate, with what it lacks. */
export async function chooseInterpreter(
  context: vscode.ExtensionContext,
  extensionVersion: string,
  resource?: vscode.Uri,
  cwd?: string,
  log?: (line: string) => void,
): Promise<{ interpreter: Interpreter; probe: ProbeResult }> {
  const candidates = await candidateInterpreters(context, resource);
  let first: { interpreter: Interpreter; probe: ProbeResult } | undefined;
  for (const interpreter of candidates) {
    const probe = await probeInterpreter(interpreter.path, extensionVersion, cwd);
    log?.(`[exo] ${interpreter.path} (${interpreter.source}): ${probe.ok ? "can run the server" : probe.detail}`);
    if (probe.ok) {
      return { interpreter, probe };
    }
    first ??= { interpreter, probe };
  }
  return first!;
}

function expandPath(value: string, resource?: vscode.Uri): string {
  const folder =
    (resource && vscode.workspace.getWorkspaceFolder(resource)) ?? vscode.workspace.workspaceFolders?.[0];
  let p = value.replace(/\$\{workspaceFolder\}/g, folder?.uri.fsPath ?? "");
  if (p === "~" || p.startsWith("~/")) {
    p = path.join(os.homedir(), p.slice(1));
  }
  // A bare command name ("python3") is looked up on PATH; a relative path is relative to the folder.
  if (p.includes("/") && !path.isAbsolute(p) && folder) {
    p = path.join(folder.uri.fsPath, p);
  }
  return p;
}

/** The Python extension's API, if it is installed and answers (it is optional). */
export async function pythonExtension(): Promise<PythonExtension | undefined> {
  if (!vscode.extensions.getExtension(PVSC_EXTENSION_ID)) {
    return undefined;
  }
  try {
    return await withTimeout(PythonExtension.api(), 10_000);
  } catch {
    return undefined;
  }
}

/** The active environment of the `ms-python.python` extension, if it is installed and answers. */
async function pythonExtensionInterpreter(resource?: vscode.Uri): Promise<string | undefined> {
  const api = await pythonExtension();
  if (!api) {
    return undefined;
  }
  try {
    const active = api.environments.getActiveEnvironmentPath(resource);
    const resolved = await withTimeout(api.environments.resolveEnvironment(active), 10_000);
    const exe = resolved?.executable?.uri?.fsPath ?? active?.path;
    return exe || undefined;
  } catch {
    return undefined;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
}

/** What an interpreter lacks for the server. */
export type Problem =
  | "missing-python" // not found / not executable / no answer
  | "python-version" // not 3.11 or 3.12
  | "missing-server" // exo-lsp (and maybe Exo) not installed
  | "old-server" // exo-lsp older than this extension
  | "exo-version" // exo-lang other than REQUIRED_EXO
  | "broken"; // installed, but importing fails

export interface ProbeResult {
  ok: boolean;
  problem?: Problem;
  /** one line saying what went wrong */
  detail: string;
  python?: string;
  exoLsp?: string | null;
  exoLang?: string | null;
}

const PROBE = `
import json, sys
r = {"python": "%d.%d.%d" % sys.version_info[:3]}
try:
    from importlib.metadata import version
except Exception:
    version = None
for dist in ("exo-lsp", "exo-lang"):
    try:
        r[dist] = version(dist)
    except Exception:
        r[dist] = None
try:
    import exo_lsp, exo
    r["import"] = None
except BaseException as e:
    r["import"] = "%s: %s" % (type(e).__name__, e)
print(json.dumps(r))
`;

/** Compares dotted versions numerically ("0.10.0" > "0.9.1"); non-numeric parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((x) => parseInt(x, 10) || 0);
  const pb = b.split(/[.+-]/).map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

/** Can this interpreter run the server: the right Python, exo-lsp not older than us, Exo 1.0.0? */
export function probeInterpreter(python: string, extensionVersion: string, cwd?: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(python, ["-c", PROBE], { cwd, timeout: 60_000, env: process.env }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        let detail: string;
        if (code === "ENOENT") {
          detail = `${python} was not found`;
        } else if (code === "EACCES") {
          detail = `${python} is not executable`;
        } else if (err.killed) {
          detail = `${python} did not answer within 60 s`;
        } else {
          detail = String(stderr).trim().split("\n").pop() || err.message;
        }
        resolve({ ok: false, problem: "missing-python", detail });
        return;
      }
      let r: { python: string; "exo-lsp": string | null; "exo-lang": string | null; import: string | null };
      try {
        r = JSON.parse(String(stdout).trim().split("\n").pop() ?? "");
      } catch {
        resolve({ ok: false, problem: "missing-python", detail: `${python} gave no answer: ${String(stdout).slice(0, 200)}` });
        return;
      }
      const base = { python: r.python, exoLsp: r["exo-lsp"], exoLang: r["exo-lang"] };
      const [major, minor] = r.python.split(".").map(Number);
      if (major !== 3 || minor < 11 || minor > 12) {
        resolve({ ...base, ok: false, problem: "python-version", detail: `it is Python ${r.python}; Exo ${REQUIRED_EXO} needs Python 3.11 or 3.12` });
      } else if (!r["exo-lsp"] && r.import) {
        const what = r["exo-lang"] ? "exo-lsp is not installed" : "neither exo-lsp nor Exo (exo-lang) is installed";
        resolve({ ...base, ok: false, problem: "missing-server", detail: what });
      } else if (r["exo-lsp"] && compareVersions(r["exo-lsp"], extensionVersion) < 0) {
        resolve({ ...base, ok: false, problem: "old-server", detail: `exo-lsp ${r["exo-lsp"]} is older than this extension (${extensionVersion})` });
      } else if (r["exo-lang"] && r["exo-lang"] !== REQUIRED_EXO) {
        resolve({ ...base, ok: false, problem: "exo-version", detail: `exo-lang ${r["exo-lang"]} is installed; exo-lsp needs exo-lang ${REQUIRED_EXO} exactly` });
      } else if (r.import) {
        const problem = r["exo-lang"] ? "broken" : "missing-server";
        const detail = r["exo-lang"] ? r.import : `Exo (exo-lang ${REQUIRED_EXO}) is not installed (${r.import})`;
        resolve({ ...base, ok: false, problem, detail });
      } else {
        // Importable without metadata (e.g. PYTHONPATH to a checkout) is fine too.
        resolve({ ...base, ok: true, detail: "" });
      }
    });
  });
}

/** The wheel of exo-lsp the .vsix carries (client-vscode/bundled/), if any. */
export function bundledWheel(extensionPath: string): string | undefined {
  const dir = path.join(extensionPath, "client-vscode", "bundled");
  try {
    const wheels = fs.readdirSync(dir).filter((f) => /^exo_lsp-.*\.whl$/.test(f));
    wheels.sort(compareVersions);
    return wheels.length ? path.join(dir, wheels[wheels.length - 1]) : undefined;
  } catch {
    return undefined;
  }
}

export const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The command that installs what the server needs into `python`. */
export function installCommand(python: string, wheel: string | undefined, repoRoot: string | undefined): string {
  const q = shellQuote;
  if (wheel) {
    return `${q(python)} -m pip install ${q(wheel)}`;
  }
  const server = `-e ${repoRoot ? q(repoRoot) : "<path of your exo-lsp checkout>"}`;
  return `${q(python)} -m pip install exo-lang==${REQUIRED_EXO} ${server}`;
}

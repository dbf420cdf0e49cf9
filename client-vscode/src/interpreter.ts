// Which Python runs the server, and whether it can.
import { execFile } from "node:child_process";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";

export interface Interpreter {
  path: string;
  /** where the choice came from, for messages */
  source: "exo.python" | "Python extension" | "default";
}

export async function resolveInterpreter(resource?: vscode.Uri): Promise<Interpreter> {
  const configured = vscode.workspace.getConfiguration("exo", resource).get<string>("python", "").trim();
  if (configured) {
    return { path: expandPath(configured, resource), source: "exo.python" };
  }
  const fromExtension = await pythonExtensionInterpreter(resource);
  if (fromExtension) {
    return { path: fromExtension, source: "Python extension" };
  }
  return { path: "python3", source: "default" };
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

/** The active environment of the `ms-python.python` extension, if it is installed and answers. */
async function pythonExtensionInterpreter(resource?: vscode.Uri): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension("ms-python.python");
  if (!ext) {
    return undefined;
  }
  try {
    const api: any = await withTimeout(Promise.resolve(ext.isActive ? ext.exports : ext.activate()), 10_000);
    const envs = api?.environments;
    if (typeof envs?.getActiveEnvironmentPath !== "function") {
      return undefined;
    }
    const active = envs.getActiveEnvironmentPath(resource);
    let resolved: any;
    if (typeof envs.resolveEnvironment === "function") {
      resolved = await withTimeout(Promise.resolve(envs.resolveEnvironment(active)), 10_000);
    }
    const exe: unknown = resolved?.executable?.uri?.fsPath ?? active?.path;
    return typeof exe === "string" && exe.length > 0 ? exe : undefined;
  } catch {
    return undefined;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))]);
}

export interface ProbeResult {
  ok: boolean;
  /** one line saying what went wrong */
  detail: string;
}

/** Can this interpreter import both the server and Exo? */
export function probeInterpreter(python: string, cwd?: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(
      python,
      ["-c", "import exo_lsp, exo"],
      { cwd, timeout: 60_000, env: process.env },
      (err, _stdout, stderr) => {
        if (!err) {
          resolve({ ok: true, detail: "" });
          return;
        }
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          resolve({ ok: false, detail: `${python} was not found` });
        } else if (code === "EACCES") {
          resolve({ ok: false, detail: `${python} is not executable` });
        } else if (err.killed) {
          resolve({ ok: false, detail: `${python} did not answer within 60 s` });
        } else {
          const last = String(stderr).trim().split("\n").pop() ?? "";
          resolve({ ok: false, detail: last || err.message });
        }
      },
    );
  });
}

/** The command that installs what the server needs into `python`. */
export function installCommand(python: string, repoRoot: string | undefined): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  const server = `-e ${repoRoot ? q(repoRoot) : "<path of your exo-lsp checkout>"}`;
  return `${q(python)} -m pip install exo-lang==1.0.0 ${server}`;
}

// Setting up a Python for the server: pip-install the bundled wheel into an interpreter, or
// create the managed environment (a venv in the extension's global storage) and install into it.
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as vscode from "vscode";
import { managedEnvDir, managedPython } from "./interpreter";

type Log = (line: string) => void;

/** Runs a command, its output line by line into `log` and the progress message; true on exit 0. */
function run(
  command: string,
  args: string[],
  log: Log,
  progress: vscode.Progress<{ message?: string }>,
  token: vscode.CancellationToken,
): Promise<{ ok: boolean; last: string }> {
  return new Promise((resolve) => {
    log(`[exo] $ ${command} ${args.join(" ")}`);
    const child = spawn(command, args, {
      env: { ...process.env, PIP_NO_INPUT: "1", PIP_DISABLE_PIP_VERSION_CHECK: "1", PYTHONUNBUFFERED: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let last = "";
    let lastError = "";
    const onData = (isErr: boolean) => {
      let partial = "";
      return (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split(/\r?\n/);
        partial = lines.pop() ?? "";
        for (const line of lines) {
          if (!line.trim()) continue;
          log(`[pip] ${line}`);
          if (isErr && /error/i.test(line)) lastError = line.trim();
          last = line.trim();
          progress.report({ message: last.length > 90 ? `${last.slice(0, 87)}…` : last });
        }
      };
    };
    child.stdout.on("data", onData(false));
    child.stderr.on("data", onData(true));
    const cancel = token.onCancellationRequested(() => child.kill());
    child.on("error", (e) => {
      cancel.dispose();
      log(`[exo] ${command}: ${e.message}`);
      resolve({ ok: false, last: e.message });
    });
    child.on("close", (code) => {
      cancel.dispose();
      log(`[exo] exit code ${code}`);
      resolve({ ok: code === 0, last: lastError || last });
    });
  });
}

/** pip-installs the bundled wheel (and so exo-lang 1.0.0 and the other dependencies) into `python`. */
export async function installWheel(python: string, wheel: string, log: Log, title: string): Promise<boolean> {
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    (progress, token) => run(python, ["-m", "pip", "install", wheel], log, progress, token),
  );
  if (!result.ok) {
    const externally = /externally-managed-environment/.test(result.last);
    void vscode.window
      .showErrorMessage(
        `Exo: installing into ${python} failed: ${result.last}` +
          (externally ? " (a system Python: create an environment for Exo instead)" : ""),
        "Show Log",
      )
      .then((c) => c && vscode.commands.executeCommand("exo.showOutput"));
  }
  return result.ok;
}

/** Python 3.11 or 3.12 on PATH (python3.11, python3.12, python3), for the managed environment. */
export async function findBasePython(): Promise<string | undefined> {
  const names = process.platform === "win32" ? ["python"] : ["python3.11", "python3.12", "python3"];
  for (const name of names) {
    const ok = await new Promise<boolean>((resolve) =>
      execFile(
        name,
        ["-c", "import sys, venv; sys.exit(not ((3, 11) <= sys.version_info[:2] <= (3, 12)))"],
        { timeout: 30_000 },
        (err) => resolve(!err),
      ),
    );
    if (ok) return name;
  }
  return undefined;
}

/** Creates (or re-creates) the managed venv and installs the wheel into it; its python, or undefined. */
export async function createManagedEnv(
  context: vscode.ExtensionContext,
  wheel: string,
  log: Log,
): Promise<string | undefined> {
  const base = await findBasePython();
  if (!base) {
    void vscode.window.showErrorMessage(
      "Exo: no Python 3.11 or 3.12 on PATH (python3.11, python3.12 or python3) to create an environment with. Install one, or set “exo.python”.",
    );
    return undefined;
  }
  const dir = managedEnvDir(context);
  const created = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Exo: creating an environment with ${base}`, cancellable: true },
    async (progress, token) => {
      await fs.promises.rm(dir, { recursive: true, force: true });
      await fs.promises.mkdir(context.globalStorageUri.fsPath, { recursive: true });
      return run(base, ["-m", "venv", dir], log, progress, token);
    },
  );
  if (!created.ok) {
    void vscode.window
      .showErrorMessage(`Exo: creating the environment with ${base} failed: ${created.last}`, "Show Log")
      .then((c) => c && vscode.commands.executeCommand("exo.showOutput"));
    return undefined;
  }
  const python = managedPython(context);
  const ok = await installWheel(python, wheel, log, "Exo: installing exo-lsp and Exo into the new environment");
  return ok ? python : undefined;
}

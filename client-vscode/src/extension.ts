// Exo for VS Code: starts `<python> -m exo_lsp serve` for scripts that use Exo and adds the
// per-step views, generated C, diffs between steps and compile & simulate on top of the LSP.
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import {
  DynamicFeature,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RegistrationData,
  RequestParam,
  RequestType,
  ServerOptions,
  StaticFeature,
  State,
} from "vscode-languageclient/node";
import {
  bundledWheel,
  chooseInterpreter,
  installCommand,
  Interpreter,
  ProbeResult,
  pythonExtension,
} from "./interpreter";
import { createManagedEnv, installWheel } from "./setup";
import {
  Commands,
  CScheme,
  Notifications,
  ProcScheme,
  RunStatusParams,
  SimulateArgs,
  SimulateResponse,
  StepInfo,
  SuggestArgs,
  SuggestionsParams,
} from "./protocol";
import { SuggestionsPanel } from "./suggestions";
import { CycleDecorations } from "./cycles";
import { compileAndSimulate } from "./simulate";
import { ClientState, StatusBar } from "./status";
import {
  errorText,
  fetchSteps,
  openView,
  parseViewUri,
  previousStep,
  Requester,
  stepAtLine,
  ViewProvider,
  viewUri,
} from "./views";

/** Commands this extension registers itself; the server's same-named commands are reached through them. */
const CLIENT_COMMANDS = [
  "exo.showProc",
  "exo.showProcAtCursor",
  "exo.showC",
  "exo.diffPrevious",
  "exo.compileAndSimulate",
  "exo.suggestSchedule",
  "exo.restartServer",
] as const;

const EXO_IMPORT = /^[ \t]*(?:import[ \t]+exo\b|from[ \t]+exo\b)/m;

export function usesExo(doc: vscode.TextDocument): boolean {
  return doc.languageId === "python" && doc.uri.scheme === "file" && EXO_IMPORT.test(doc.getText());
}

/**
 * vscode-languageclient turns every command the server can execute into a VS Code command of the
 * same name; `exo.compileAndSimulate` is also ours (it adds progress and the report), so leave it out.
 */
class ExoLanguageClient extends LanguageClient {
  override registerFeature(feature: StaticFeature | DynamicFeature<any>): void {
    const dyn = feature as DynamicFeature<any>;
    if (dyn.registrationType?.method === ExecuteCommandRequest.method) {
      const register = dyn.register.bind(dyn);
      dyn.register = (data: RegistrationData<any>) => {
        const commands: string[] = data.registerOptions?.commands ?? [];
        const own = new Set<string>(CLIENT_COMMANDS);
        register({ ...data, registerOptions: { ...data.registerOptions, commands: commands.filter((c) => !own.has(c)) } });
      };
    }
    super.registerFeature(feature);
  }
}

/** What tests (and other extensions) can read; see client-vscode/test. */
export interface ExoApi {
  readonly state: ClientState;
  readonly startError: string | undefined;
  readonly interpreter: Interpreter | undefined;
  readonly runStatuses: readonly RunStatusParams[];
  readonly lastSimulation: SimulateResponse | undefined;
  statusBar(): { text: string; tooltip: string; state: string };
  /** Resolves once the server is running or has failed to start. */
  settled(): Promise<ClientState>;
  /** Starts the server if the gate (an open script that imports exo) has not done so yet. */
  ensureStarted(): Promise<ClientState>;
  /** A request to the server, as one of protocol.ts's typed `RequestType`s. */
  request<P, R>(type: RequestType<P, R, void>, params: RequestParam<P>): Promise<R>;
  /** Lines of a visible exo-c view that show simulated cycles. */
  cycleLines(viewUri: vscode.Uri): number;
  /** The latest `exo/suggestions` of a script (URI string). */
  suggestions(uri: string): SuggestionsParams | undefined;
}

class Exo implements vscode.Disposable {
  private client: ExoLanguageClient | undefined;
  private state: ClientState = "stopped";
  private startError: string | undefined;
  private interpreter: Interpreter | undefined;
  private readonly runStatuses: RunStatusParams[] = [];
  lastSimulation: SimulateResponse | undefined;
  /** serialises start / stop */
  private queue: Promise<unknown> = Promise.resolve();
  private settledWaiters: Array<(s: ClientState) => void> = [];

  readonly output = vscode.window.createOutputChannel("Exo", { log: true });
  readonly status = new StatusBar();
  readonly views: ViewProvider;
  readonly cycles = new CycleDecorations();
  readonly suggestions: SuggestionsPanel;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.views = new ViewProvider(this.request);
    this.suggestions = new SuggestionsPanel({
      insert: (a) => this.request(Commands.insertSuggestion.request, Commands.insertSuggestion.params(a)),
      cancel: (uri) => this.request(Commands.cancelSuggestions.request, Commands.cancelSuggestions.params({ uri })),
    });
  }

  readonly request: Requester = async <P, R>(
    type: RequestType<P, R, void>,
    params: RequestParam<P>,
    token?: vscode.CancellationToken,
  ) => {
    if (this.state !== "running") {
      await this.ensureStarted();
    }
    const client = this.client;
    if (!client || this.state !== "running") {
      throw new Error(this.startError ?? "the Exo language server is not running");
    }
    return client.sendRequest(type, params, token);
  };

  api(): ExoApi {
    const self = this;
    return {
      get state() {
        return self.state;
      },
      get startError() {
        return self.startError;
      },
      get interpreter() {
        return self.interpreter;
      },
      get runStatuses() {
        return self.runStatuses;
      },
      get lastSimulation() {
        return self.lastSimulation;
      },
      statusBar: () => this.status.snapshot,
      settled: () => this.settled(),
      ensureStarted: () => this.ensureStarted(),
      // Callers (the e2e suites, other extensions) bundle their own vscode-languageclient, whose
      // RequestType this client's jsonrpc does not recognise: rebuild it from the method name.
      request: <P, R>(type: RequestType<P, R, void>, params: RequestParam<P>) =>
        this.request(new RequestType<P, R, void>(type.method), params),
      cycleLines: (uri: vscode.Uri) => this.cycles.decoratedLines(uri),
      suggestions: (uri: string) => this.suggestions.latest.get(uri),
    };
  }

  private setState(state: ClientState, detail = ""): void {
    this.state = state;
    this.status.setClientState(state, detail);
    if (state === "running" || state === "failed") {
      const waiters = this.settledWaiters;
      this.settledWaiters = [];
      waiters.forEach((w) => w(state));
    }
  }

  settled(): Promise<ClientState> {
    if (this.state === "running" || this.state === "failed") {
      return Promise.resolve(this.state);
    }
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  ensureStarted(): Promise<ClientState> {
    if (this.state === "stopped") {
      this.enqueue(() => this.start());
    }
    return this.settled();
  }

  restart(): Promise<ClientState> {
    this.enqueue(async () => {
      await this.stop();
      await this.start();
    });
    return this.settled();
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const next = this.queue.then(job, job);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async start(): Promise<void> {
    if (this.client) {
      return;
    }
    this.setState("starting");
    this.startError = undefined;
    const folder = vscode.workspace.workspaceFolders?.[0];
    const { interpreter, probe } = await chooseInterpreter(
      this.context,
      this.extensionVersion,
      folder?.uri,
      folder?.uri.fsPath,
      (l) => this.output.appendLine(l),
    );
    this.interpreter = interpreter;
    this.output.appendLine(`[exo] interpreter ${interpreter.path} (from ${interpreter.source})`);
    if (!probe.ok) {
      this.failToStart(interpreter, probe);
      return;
    }
    const serverOptions: ServerOptions = {
      command: interpreter.path,
      // stdio without TransportKind.stdio, which would append "--stdio" to the arguments.
      args: ["-m", "exo_lsp", "serve"],
      options: { cwd: folder?.uri.fsPath, env: { ...process.env, PYTHONUNBUFFERED: "1" } },
    };
    const clientOptions: LanguageClientOptions = {
      // Scripts, and the views (hover / definition map their statements back to the script).
      documentSelector: [{ scheme: "file", language: "python" }, { scheme: ProcScheme }, { scheme: CScheme }],
      outputChannel: this.output,
      initializationOptions: { trusted: vscode.workspace.isTrusted, virtualDocuments: true },
      markdown: { isTrusted: false, supportHtml: false },
    };
    const client = new ExoLanguageClient("exo", "Exo", serverOptions, clientOptions);
    client.onNotification(Notifications.runStatus, (p) => {
      this.runStatuses.push(p);
      if (this.runStatuses.length > 200) {
        this.runStatuses.splice(0, this.runStatuses.length - 200);
      }
      this.status.update(p);
    });
    client.onNotification(Notifications.suggestions, (p) => this.suggestions.update(p));
    client.onNotification(Notifications.viewsChanged, (p) => {
      this.views.scriptChanged(p.scriptUri);
      this.cycles.forgetScript(vscode.Uri.parse(p.scriptUri).path);
    });
    client.onDidChangeState((e) => {
      if (this.client !== client) {
        return;
      }
      if (e.newState === State.Stopped && this.state === "running") {
        this.setState("failed", "The Exo language server stopped; run “Exo: Restart Server”.");
      } else if (e.newState === State.Running && this.state === "failed") {
        // vscode-languageclient restarted a crashed server by itself.
        this.setState("running");
      }
    });
    this.client = client;
    try {
      await client.start();
    } catch (e) {
      this.client = undefined;
      this.startError = `The Exo language server (${interpreter.path} -m exo_lsp serve) did not start: ${errorText(e)}`;
      this.output.appendLine(`[exo] ${this.startError}`);
      this.setState("failed", this.startError);
      return;
    }
    this.setState("running");
    this.views.refreshAll();
  }

  private get extensionVersion(): string {
    return String(this.context.extension.packageJSON.version ?? "0");
  }

  private failToStart(interpreter: Interpreter, probe: ProbeResult): void {
    const detail = probe.detail;
    const wheel = bundledWheel(this.context.extensionPath);
    const cmd = installCommand(interpreter.path, wheel, repoRoot(this.context));
    this.startError =
      `Exo: the language server cannot start with ${interpreter.path} (${interpreter.source}): ${detail}. ` +
      `Install it with: ${cmd}`;
    this.output.appendLine(`[exo] ${this.startError}`);
    this.setState("failed", this.startError);
    if (this.setupRunning) {
      return;
    }
    const show = "Show Install Command";
    const settings = "Choose Interpreter…";
    const canInstall = probe.problem !== "missing-python" && probe.problem !== "python-version";
    const install = probe.problem === "old-server" ? "Upgrade" : "Install";
    const create = "Create Environment";
    const actions: string[] = [];
    if (wheel && canInstall) actions.push(install);
    if (wheel) actions.push(create);
    if (!wheel) actions.push(show);
    actions.push(settings);
    let advice: string;
    switch (probe.problem) {
      case "missing-server":
        advice = wheel
          ? "Install exo-lsp and Exo into it, or create an environment for Exo?"
          : "Set “exo.python” or install the server into that interpreter.";
        break;
      case "old-server":
        advice = wheel ? `Upgrade it to the extension's exo-lsp ${this.extensionVersion}?` : "Upgrade exo-lsp in that interpreter.";
        break;
      case "exo-version":
        advice = wheel
          ? "Install replaces it with exo-lang 1.0.0 in that environment; Create Environment leaves it alone."
          : "Install exo-lang==1.0.0 or choose another interpreter.";
        break;
      default:
        advice = wheel ? "Create an environment for Exo, or choose another interpreter." : "Set “exo.python” or install the server into that interpreter.";
    }
    void vscode.window
      .showErrorMessage(`Exo: ${interpreter.path} cannot run the Exo language server (${detail}). ${advice}`, ...actions)
      .then(async (choice) => {
        if (choice === install && wheel) {
          await this.setup(() =>
            installWheel(
              interpreter.path,
              wheel,
              (l) => this.output.appendLine(l),
              `Exo: installing exo-lsp and Exo into ${interpreter.path}`,
            ),
          );
        } else if (choice === create && wheel) {
          await this.setup(async () => {
            const python = await createManagedEnv(this.context, wheel, (l) => this.output.appendLine(l));
            if (python) {
              await this.pointSettingAt(python);
            }
            return python !== undefined;
          });
        } else if (choice === show) {
          const copy = "Copy";
          const run = "Run in Terminal";
          const pick = await vscode.window.showInformationMessage(`Install the Exo server with: ${cmd}`, copy, run);
          if (pick === copy) {
            await vscode.env.clipboard.writeText(cmd);
          } else if (pick === run) {
            const term = vscode.window.createTerminal("Exo: install");
            term.show();
            term.sendText(cmd, false);
          }
        } else if (choice === settings) {
          if (await pythonExtension()) {
            await vscode.commands.executeCommand("python.setInterpreter");
          } else {
            await vscode.commands.executeCommand("workbench.action.openSettings", "exo.python");
          }
        }
      });
  }

  private setupRunning = false;

  /** Runs an install; on success restarts the server with the (re-)chosen interpreter. */
  private async setup(job: () => Promise<boolean>): Promise<void> {
    this.setupRunning = true;
    this.output.show(true);
    let ok = false;
    try {
      ok = await job();
    } finally {
      this.setupRunning = false;
    }
    if (ok) {
      this.output.appendLine("[exo] installed; restarting the server");
      await this.restart();
    }
  }

  /**
   * `exo.python` wins over the managed environment: where it is set, point it at the environment
   * just created (the user asked for it), and say so.
   */
  private async pointSettingAt(python: string): Promise<void> {
    const config = vscode.workspace.getConfiguration("exo");
    const inspect = config.inspect<string>("python");
    const targets: Array<[string | undefined, vscode.ConfigurationTarget, string]> = [
      [inspect?.globalValue, vscode.ConfigurationTarget.Global, "user"],
      [inspect?.workspaceValue, vscode.ConfigurationTarget.Workspace, "workspace"],
      [inspect?.workspaceFolderValue, vscode.ConfigurationTarget.WorkspaceFolder, "folder"],
    ];
    const changed: string[] = [];
    for (const [value, target, name] of targets) {
      if (value && value.trim()) {
        await config.update("python", python, target);
        changed.push(name);
      }
    }
    if (changed.length) {
      void vscode.window.showInformationMessage(
        `Exo: “exo.python” (${changed.join(", ")} settings) now points at the new environment: ${python}`,
      );
    }
  }

  private async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.setState("stopped");
    if (client) {
      try {
        await client.stop(3000);
      } catch (e) {
        this.output.appendLine(`[exo] stopping the server: ${errorText(e)}`);
      }
    }
  }

  /**
   * `exo.python` or the Python extension's active environment may have changed (also when trust is
   * granted): restart if the interpreter did.
   */
  async interpreterSettingChanged(): Promise<void> {
    if (this.state === "stopped") {
      return;
    }
    if (this.setupRunning) {
      return;
    }
    const folder = vscode.workspace.workspaceFolders?.[0];
    const { interpreter: next } = await chooseInterpreter(this.context, this.extensionVersion, folder?.uri, folder?.uri.fsPath);
    if (this.state === "running" && next.path === this.interpreter?.path) {
      return;
    }
    await this.restart();
  }

  async trustGranted(): Promise<void> {
    if (this.client && this.state === "running") {
      await this.client.sendNotification(Notifications.trustChanged, { trusted: true });
    }
  }


  async dispose(): Promise<void> {
    await this.stop();
    this.views.dispose();
    this.suggestions.dispose();
    this.cycles.dispose();
    this.status.dispose();
    this.output.dispose();
  }
}

/** The exo-lsp checkout this extension runs from, if it runs from one (development install). */
function repoRoot(context: vscode.ExtensionContext): string | undefined {
  try {
    const text = fs.readFileSync(path.join(context.extensionPath, "pyproject.toml"), "utf8");
    return /^name\s*=\s*"exo-lsp"/m.test(text) ? context.extensionPath : undefined;
  } catch {
    return undefined;
  }
}

/** Optional argument of the view commands, e.g. from a code lens. */
interface Target {
  uri?: string;
  proc?: string;
  step?: number | "last";
}

/** The script and the step the user means: from an argument, a view editor, or the cursor. */
async function resolveTarget(exo: Exo, arg: Target | undefined, atCursor: boolean): Promise<
  { script: vscode.Uri; step?: StepInfo; proc?: string; steps: StepInfo[] } | undefined
> {
  const editor = vscode.window.activeTextEditor;
  let script: vscode.Uri | undefined;
  let line: number | undefined;
  if (arg?.uri) {
    script = vscode.Uri.parse(arg.uri);
  } else if (editor) {
    const view = parseViewUri(editor.document.uri);
    if (view) {
      script = view.script;
      if (!arg?.proc) {
        arg = { proc: view.proc, step: view.step };
      }
    } else if (editor.document.languageId === "python") {
      script = editor.document.uri;
      line = editor.selection.active.line;
    }
  }
  if (!script) {
    void vscode.window.showInformationMessage("Exo: open a Python script that schedules Exo procs first.");
    return undefined;
  }
  let steps: StepInfo[];
  try {
    steps = await fetchSteps(exo.request, script);
  } catch (e) {
    void vscode.window.showErrorMessage(`Exo: ${errorText(e)}`);
    return undefined;
  }
  let step: StepInfo | undefined;
  if (arg?.proc) {
    const sameProc = steps.filter((s) => s.proc === arg!.proc);
    step = typeof arg.step === "number" ? sameProc.find((s) => s.index === arg!.step) : sameProc[sameProc.length - 1];
    return { script, step, proc: arg.proc, steps };
  }
  step = line !== undefined ? stepAtLine(steps, line) : undefined;
  if (!step && !atCursor) {
    step = steps[steps.length - 1];
  }
  return { script, step, proc: step?.proc, steps };
}

function noSteps(script: vscode.Uri, atCursor: boolean): void {
  const file = script.path.split("/").pop();
  void vscode.window.showInformationMessage(
    atCursor
      ? `Exo: no scheduling step at or above the cursor in ${file}.`
      : `Exo: no scheduling steps in ${file} yet (has the script run? see the Exo status bar item).`,
  );
}

export async function activate(context: vscode.ExtensionContext): Promise<ExoApi> {
  const exo = new Exo(context);
  context.subscriptions.push({ dispose: () => void exo.dispose() });

  const command = (id: string, fn: (...args: any[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(id, fn));

  command("exo.restartServer", () => exo.restart());
  command("exo.showOutput", () => exo.output.show(true));

  const showView = async (scheme: typeof ProcScheme | typeof CScheme, atCursor: boolean, arg?: Target) => {
    const t = await resolveTarget(exo, arg, atCursor);
    if (!t) {
      return undefined;
    }
    if (!t.proc || (atCursor && !t.step)) {
      noSteps(t.script, atCursor);
      return undefined;
    }
    const step = atCursor ? t.step!.index : (arg?.step ?? "last");
    const uri = viewUri({ scheme, script: t.script, proc: t.proc, step });
    await openView(uri);
    return uri;
  };
  command("exo.showProc", (arg?: Target) => showView(ProcScheme, false, arg));
  command("exo.showProcAtCursor", (arg?: Target) => showView(ProcScheme, true, arg));
  command("exo.showC", (arg?: Target) => showView(CScheme, false, arg));

  command("exo.diffPrevious", async (arg?: Target) => {
    const t = await resolveTarget(exo, arg, false);
    if (!t) {
      return undefined;
    }
    if (!t.step) {
      noSteps(t.script, false);
      return undefined;
    }
    // Before the proc's first step: the proc as defined (step=-1).
    const before = previousStep(t.steps, t.step)?.index ?? -1;
    const left = viewUri({ scheme: ProcScheme, script: t.script, proc: t.step.proc, step: before });
    const right = viewUri({ scheme: ProcScheme, script: t.script, proc: t.step.proc, step: t.step.index });
    const title = `${t.step.proc}: ${before < 0 ? "as defined" : `step ${before}`} ↔ step ${t.step.index} (${t.step.op})`;
    await vscode.commands.executeCommand("vscode.diff", left, right, title, {
      viewColumn: vscode.ViewColumn.Beside,
      preserveFocus: true,
      preview: false,
    });
    return { left, right };
  });

  command("exo.compileAndSimulate", async (arg?: Target) => {
    const t = await resolveTarget(exo, arg, false);
    if (!t) {
      return undefined;
    }
    const args: SimulateArgs = { uri: t.script.toString() };
    if (t.proc) {
      args.proc = t.proc;
    }
    if (arg?.step !== undefined) {
      args.step = arg.step;
    }
    try {
      const response = await compileAndSimulate(
        (a, token) => exo.request(Commands.compileAndSimulate.request, Commands.compileAndSimulate.params(a), token),
        args,
      );
      exo.lastSimulation = response;
      const result = response?.result;
      if (result?.lines?.length) {
        exo.cycles.set(t.script, args.proc ?? result.proc, args.step ?? "last", result.lines);
      }
      return response;
    } catch (e) {
      void vscode.window.showErrorMessage(`Exo: compile & simulate failed: ${errorText(e)}`);
      return undefined;
    }
  });

  // "Exo: Suggest Schedule" (palette: from the step at the cursor; lens: {uri, step}). The search
  // runs in the server's own worker; results stream into the Suggestions view beside.
  command("exo.suggestSchedule", async (arg?: { uri?: string; step?: number; line?: number }) => {
    const editor = vscode.window.activeTextEditor;
    const uri = arg?.uri ?? editor?.document.uri.toString();
    if (!uri) {
      void vscode.window.showInformationMessage("Exo: open a schedule script to suggest a schedule for it.");
      return undefined;
    }
    const args: SuggestArgs = { uri, budget: vscode.workspace.getConfiguration("exo").get<number>("suggest.budget", 60) };
    if (typeof arg?.step === "number") {
      args.step = arg.step;
    } else {
      args.line = arg?.line ?? (editor && editor.document.uri.toString() === uri ? editor.selection.active.line : undefined);
    }
    try {
      const got = await exo.request(Commands.suggestSchedule.request, Commands.suggestSchedule.params(args));
      if (!got?.started) {
        void vscode.window.showWarningMessage(`Exo: cannot suggest a schedule here: ${got?.error ?? "no answer"}`);
        return got;
      }
      exo.suggestions.open(uri);
      return got;
    } catch (e) {
      void vscode.window.showErrorMessage(`Exo: suggest schedule failed: ${errorText(e)}`);
      return undefined;
    }
  });

  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(() => void exo.trustGranted()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("exo.python")) {
        void exo.interpreterSettingChanged();
      }
    }),
  );

  // Follow the Python extension's active environment, if that extension is installed.
  void pythonExtension().then((python) => {
    if (python) {
      context.subscriptions.push(
        python.environments.onDidChangeActiveEnvironmentPath(() => void exo.interpreterSettingChanged()),
      );
    }
  });

  // Start only once a script that uses Exo is open.
  const gate = (doc: vscode.TextDocument) => {
    if (exo.api().state === "stopped" && usesExo(doc)) {
      void exo.ensureStarted();
    }
  };
  context.subscriptions.push(vscode.workspace.onDidOpenTextDocument(gate), vscode.workspace.onDidSaveTextDocument(gate));
  vscode.workspace.textDocuments.forEach(gate);

  return exo.api();
}

export function deactivate(): void {
  // Everything hangs off context.subscriptions.
}

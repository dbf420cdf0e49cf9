// Shapes of the custom exo-lsp protocol, as the client codes against them.
// To be replaced by the generated `protocol.ts` (from protocol/) once it exists.

export type RunState = "running" | "ok" | "errors" | "crashed" | "untrusted";

/** server -> client notification `exo/runStatus` */
export interface RunStatusParams {
  uri: string;
  version: number | null;
  state: RunState;
  errors: number;
  warnings: number;
  durationMs: number;
  message: string;
}

/** client -> server request `exo/viewText` */
export interface ViewTextParams {
  uri: string;
}
export interface ViewTextResult {
  text: string;
  version: number;
}

/** server -> client notification `exo/viewsChanged` */
export interface ViewsChangedParams {
  scriptUri: string;
}

/** client -> server request `exo/steps` */
export interface StepsParams {
  uri: string;
}
export interface Step {
  index: number;
  /** 0-based line of the scheduling call in the script */
  line: number;
  op: string;
  proc: string;
  ok: boolean;
}
export interface StepsResult {
  steps: Step[];
}

/** client -> server notification `exo/trustChanged` */
export interface TrustChangedParams {
  trusted: boolean;
}

/** argument of `workspace/executeCommand` `exo.compileAndSimulate` */
export interface SimulateArgs {
  uri: string;
  proc?: string;
  step?: number | "last";
}
export interface LineCycles {
  cLine: number;
  cycles: number;
  procLine?: number;
}
export interface SimulateResult {
  ok: boolean;
  cycles: number;
  instructions: number;
  baselineCycles: number;
  speedup: number;
  correct: boolean;
  utilisation: number;
  stalls: Record<string, number>;
  races: unknown[];
  lineCycles: LineCycles[];
  reportUri?: string;
  /** markdown */
  report: string;
}

export const Methods = {
  runStatus: "exo/runStatus",
  viewText: "exo/viewText",
  viewsChanged: "exo/viewsChanged",
  steps: "exo/steps",
  trustChanged: "exo/trustChanged",
  compileAndSimulate: "exo.compileAndSimulate",
} as const;

/** URI schemes of the read-only views: `<scheme>:/<script path>?proc=<name>&step=<n|last>` */
export const ProcScheme = "exo-proc";
export const CScheme = "exo-c";

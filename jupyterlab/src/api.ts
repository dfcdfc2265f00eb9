/**
 * The server extension's endpoints (nb2pipe_lab/handlers.py), typed.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface IError {
  kind: string;
  message: string;
  cell: number | null;
  line: number | null;
  hint: string | null;
  text: string;
}

export interface IDiagnostic {
  severity: 'error' | 'warning' | 'note';
  message: string;
  cell: number | null;
  line: number | null;
}

export interface IStepInfo {
  name: string;
  kind: 'step' | 'gate';
  cells: number[];
  inputs: Record<string, string>;
  outputs: string[];
  params: string[];
  after: string[];
  metrics: string[];
  doc: string;
}

export interface IParameter {
  name: string;
  type: string;
  optional: boolean;
  default: unknown;
  help: string;
  secret: boolean;
  env: string | null;
  cell: number;
}

export interface IInspect {
  name: string;
  notebook: string;
  split: string;
  steps: IStepInfo[];
  parameters: IParameter[];
  derived: { name: string; cell: number }[];
  requirements: string[];
  diagnostics: IDiagnostic[];
  guard_policy: string;
}

export interface IServerCellPlan {
  index: number;
  id?: string | null;
  type: string;
  role: string | null;
  step: string | null;
  after: string[];
}

export interface IInspectReply {
  ok: boolean;
  path: string;
  inspect?: IInspect;
  cells: IServerCellPlan[] | null;
  graph?: string;
  error?: IError;
  seconds?: number;
}

export interface IConvertReply {
  ok: boolean;
  pipeline?: string;
  output?: string;
  output_rel?: string;
  files?: string[];
  steps?: number;
  diagnostics?: IDiagnostic[];
  error?: IError;
}

export interface IRunStarted {
  ok: boolean;
  run_id?: string;
  output?: string;
  error?: IError;
  /** The parameter whose value was refused. */
  param?: string;
}

export interface IRunStep {
  step: string;
  status: string;
  duration: number | null;
  reason: string | null;
  cached_from: string | null;
  error: { message: string; cell: number | null; line: number | null } | null;
}

export interface IRunStatus {
  run_id: string;
  status: string; // starting | converting | running | ok | failed | interrupted | error
  done: boolean;
  steps?: IRunStep[];
  metrics?: Record<string, unknown>;
  error?: IError | null;
  graph?: string | null;
  report_url?: string;
  duration?: number;
  convert?: IConvertReply | null;
}

export interface IVerifyRow {
  step: string;
  variable: string;
  verdict: string;
  how: string;
  detail: string;
}

export interface IVerifyResult {
  ok: boolean;
  rows?: IVerifyRow[];
  notebook_error?: string | null;
  pipeline_error?: string | null;
  notes?: string[];
  summary?: string;
  seconds?: Record<string, number>;
  error?: IError;
}

export interface IVerifyStatus {
  done: boolean;
  status: string;
  result?: IVerifyResult;
  seconds?: number;
}

/** A failed request: the server's one-line message, never a traceback. */
export class RequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly error?: IError
  ) {
    super(message);
  }
}

export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'nb2pipe', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    if ((error as Error).name === 'AbortError') {
      throw error;
    }
    throw new RequestError(
      'cannot reach the Jupyter server: ' + (error as Error).message,
      0
    );
  }
  const text = await response.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (response.status === 404 && data === null) {
      throw new RequestError(
        'the nb2pipe server extension is not enabled (pip install nb2pipe-lab, then restart Jupyter)',
        404
      );
    }
    const err: IError | undefined = data?.error;
    const message =
      err?.text || err?.message || data?.message || response.statusText;
    throw new RequestError(message, response.status, err);
  }
  if (data === null) {
    throw new RequestError('the server sent an answer that is not JSON', 500);
  }
  return data as T;
}

export function post<T>(
  endPoint: string,
  body: unknown,
  signal?: AbortSignal
): Promise<T> {
  return requestAPI<T>(endPoint, {
    method: 'POST',
    body: JSON.stringify(body),
    signal
  });
}

export function get<T>(
  endPoint: string,
  query: Record<string, string>
): Promise<T> {
  const qs = Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return requestAPI<T>(`${endPoint}?${qs}`, { method: 'GET' });
}

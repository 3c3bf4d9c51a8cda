import type { Collections } from '@fulcrum/model';
import type { HealthTransition, TransitionSink } from './transition.js';

/**
 * The prober's view of one embedded-mode node through its admin API (CLI-2):
 *   DescribeProberState {}                      -> {StateVersion, State: Collections}
 *   ReportHealthTransitions {Transitions: [...]} -> {RequestId}
 */
export class AdminApiClient implements TransitionSink {
  private readonly endpoint: string;

  constructor(endpoint: string, private readonly token?: string) {
    this.endpoint = endpoint.replace(/\/+$/, '');
  }

  async describeProberState(): Promise<{ StateVersion: number; State: Collections }> {
    const body = await this.call('DescribeProberState', {});
    const state = body.State as Collections | undefined;
    if (typeof body.StateVersion !== 'number' || !state || typeof state !== 'object' || !state.serverGroups) {
      throw new Error('DescribeProberState answered without StateVersion and State');
    }
    return { StateVersion: body.StateVersion, State: state };
  }

  async report(transitions: HealthTransition[]): Promise<void> {
    await this.call('ReportHealthTransitions', { Transitions: transitions });
  }

  private async call(action: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let res: Response;
    try {
      res = await fetch(`${this.endpoint}/api/${action}`, { method: 'POST', headers, body: JSON.stringify(params), signal: AbortSignal.timeout(10_000) });
    } catch (e) {
      throw new Error(`cannot reach the admin API at ${this.endpoint}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    const text = await res.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`${action}: HTTP ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) throw new Error(`${action}: ${String(body.Code ?? `Http${res.status}`)}: ${String(body.Message ?? '')}`);
    return body;
  }
}

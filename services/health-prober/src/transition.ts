/**
 * A health transition as the prober reports it (HC-4): only changes, never every result.
 * The admin action `ReportHealthTransitions {Transitions}` carries exactly this shape.
 */
export interface HealthTransition {
  ServerGroupId: string;
  /** serverKey(server): `${ServerType}:${ServerId}:${Port}`. */
  ServerKey: string;
  Status: 'Healthy' | 'Unhealthy';
  /** BS-9 reason code of the failed check that made it Unhealthy. */
  Reason?: string;
  /** When the prober decided it, epoch ms. */
  AtMs: number;
}

/** Where transitions go: the store in-process, or the admin API (CLI-2). A rejection means "not written; send again". */
export interface TransitionSink {
  report(transitions: HealthTransition[]): Promise<void>;
}

/**
 * Injected failures. The first rule matching a request fires; `times` counts down; an
 * `afterApply` rule lets the operation change the store and then answers with the error, the way
 * a response lost on the network looks to a client.
 */
import type { FaultRule } from './types.js';

export interface RequestSubject {
  operation: string;
  repository?: string;
  format?: string;
  namespace?: string;
  package?: string;
  versions: string[];
}

interface ActiveFault {
  rule: FaultRule;
  remaining: number;
}

export class Faults {
  private rules: ActiveFault[] = [];

  add(rule: FaultRule): void {
    this.rules.push({ rule: { ...rule }, remaining: rule.times ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.rules = [];
  }

  /** The first live rule that matches, without consuming it. */
  match(subject: RequestSubject): FaultRule | undefined {
    const hit = this.rules.find((f) => f.remaining > 0 && matches(f.rule, subject));
    return hit?.rule;
  }

  /** Count one firing of a rule returned by `match`. */
  fire(rule: FaultRule): void {
    const active = this.rules.find((f) => f.rule === rule);
    if (active !== undefined) active.remaining -= 1;
  }
}

function matches(rule: FaultRule, s: RequestSubject): boolean {
  if (rule.operation !== undefined && rule.operation !== s.operation) return false;
  if (rule.repository !== undefined && rule.repository !== s.repository) return false;
  if (rule.package !== undefined && !packageNames(s).includes(rule.package)) return false;
  if (rule.version !== undefined && !s.versions.includes(rule.version)) return false;
  return true;
}

function packageNames(s: RequestSubject): string[] {
  if (s.package === undefined) return [];
  const names = [s.package];
  if (s.namespace !== undefined) {
    names.push(`${s.namespace}/${s.package}`);
    if (s.format === 'npm' && !s.package.startsWith('@')) names.push(`@${s.namespace}/${s.package}`);
  }
  return names;
}

import { API_NAMES, ApiName, Fault } from './types';

interface ArmedFault {
  fault: Fault;
  remaining: number;
}

/** Faults armed per API; each request (or notification attempt) consumes one use. */
export class FaultRegistry {
  private readonly armed = new Map<ApiName, ArmedFault>();

  set(api: ApiName, fault: Fault, times = Infinity): void {
    if (!API_NAMES.includes(api)) throw new Error(`unknown api ${String(api)}`);
    if (!(times > 0)) throw new Error('times must be positive');
    if (fault.kind === 'duplicate') {
      if (api !== 'notify') throw new Error('the duplicate fault applies to notify only');
      if (!Number.isInteger(fault.copies) || fault.copies < 1) throw new Error('duplicate copies must be a positive integer');
    }
    // A notification has no "busy" answer to give: WeChat is the sender there.
    if (fault.kind === 'systemerror' && api === 'notify') throw new Error('systemerror does not apply to notify; use drop');
    if (fault.kind === 'slow' && !(fault.delayMs >= 0)) throw new Error('slow delayMs must be >= 0');
    this.armed.set(api, { fault: { ...fault }, remaining: times });
  }

  /** The fault to apply to this request, if any, consuming one use. */
  take(api: ApiName): Fault | undefined {
    const entry = this.armed.get(api);
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.armed.delete(api);
    return entry.fault;
  }

  clear(): void {
    this.armed.clear();
  }
}

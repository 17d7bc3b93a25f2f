import { EventEmitter } from 'node:events';

/**
 * Raised after a transaction that wrote an outbox event commits, so this process's relay delivers
 * it at once instead of at its next poll. Other processes find it at their poll.
 */
export const outboxSignal = new EventEmitter();
outboxSignal.setMaxListeners(0);

export function signalOutboxCommitted(): void {
  outboxSignal.emit('committed');
}

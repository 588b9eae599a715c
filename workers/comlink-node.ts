// Comlink over Node's worker_threads. Comlink speaks the browser's EventTarget dialect
// (addEventListener, event.data); a Worker and parentPort speak EventEmitter ('message' → data).
// nodeEndpoint bridges them (our own copy: Comlink's node adapter is a deep import without types).
// Comlink.proxy() callbacks travel over a fresh MessageChannel per proxy; the handler below takes
// that channel from worker_threads rather than whatever global MessageChannel the runtime has
// (Comlink issue #313), and hands Comlink bare ports so releasing a proxy closes them.
import { expose, proxyMarker, transferHandlers, wrap, type Endpoint, type ProxyMarked, type TransferHandler } from 'comlink';
import { MessageChannel, type MessagePort, type Transferable } from 'node:worker_threads';

/** What Worker, parentPort and MessagePort have in common. */
export interface NodeMessageTarget {
  postMessage(message: unknown, transfer?: readonly Transferable[]): void;
  on(event: 'message', listener: (data: unknown) => void): unknown;
  off(event: 'message', listener: (data: unknown) => void): unknown;
  start?(): void;
}

export function nodeEndpoint(target: NodeMessageTarget): Endpoint {
  const listeners = new WeakMap<EventListenerOrEventListenerObject, (data: unknown) => void>();
  return {
    postMessage: (message, transfer) => target.postMessage(message, transfer as unknown as Transferable[]),
    addEventListener(_type, handler) {
      const listener = (data: unknown) => {
        const event = { data } as MessageEvent;
        if ('handleEvent' in handler) handler.handleEvent(event);
        else handler(event);
      };
      target.on('message', listener);
      listeners.set(handler, listener);
    },
    removeEventListener(_type, handler) {
      const listener = listeners.get(handler);
      if (listener) target.off('message', listener);
      listeners.delete(handler);
    },
    start: target.start?.bind(target),
  };
}

const proxyOverWorkerThreads: TransferHandler<ProxyMarked, MessagePort> = {
  canHandle: (value): value is ProxyMarked => (typeof value === 'object' || typeof value === 'function') && value !== null && proxyMarker in value,
  serialize(value) {
    const { port1, port2 } = new MessageChannel();
    expose(value, port1 as unknown as Endpoint);
    return [port2, [port2 as unknown as Transferable]] as unknown as [MessagePort, globalThis.Transferable[]];
  },
  deserialize(port) {
    port.start();
    return wrap(port as unknown as Endpoint) as unknown as ProxyMarked;
  },
};

transferHandlers.set('proxy', proxyOverWorkerThreads as TransferHandler<unknown, unknown>);

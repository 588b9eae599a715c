import { WeightFormatError } from './raw-tensor.ts';

/**
 * A safe interpreter for the pickle subset (protocols 2–5) that checkpoints use. Nothing is ever
 * executed: GLOBAL resolves only against the caller's allow-list, and "calling" an allowed global
 * runs a caller-supplied builder of inert data. Python values map to JS as: None → null, bool →
 * boolean, int → number (bigint beyond 2^53), float → number, str → string, bytes → Uint8Array,
 * list and tuple → array, dict → Map. Every opcode consumes input, so time and memory stay linear
 * in the input size.
 */

/** An allow-listed Python callable; `invoke` must only build data from its arguments. */
export class PickleCallable {
  constructor(
    readonly qualifiedName: string,
    readonly invoke: (args: unknown[]) => unknown,
  ) {}
}

export interface UnpickleOptions {
  /** Names the file or entry in error messages. */
  source: string;
  /** Byte offset of the pickle's first opcode, for files holding several pickles back to back. */
  start?: number;
  /** "module.qualname" → value; any other global is refused. */
  globals: ReadonlyMap<string, unknown>;
  persistentLoad?: (persistentId: unknown) => unknown;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode. */
  end: number;
}

const HIGHEST_PROTOCOL = 5;
const MAX_GLOBAL_NAME_LENGTH = 512;
// Decoding a long integer is quadratic in its length; no checkpoint needs more than a few bytes.
const MAX_LONG_BYTES = 1024;

const OP = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  POP: 0x30, // 0
  POP_MARK: 0x31, // 1
  DUP: 0x32, // 2
  BINBYTES: 0x42, // B
  SHORT_BINBYTES: 0x43, // C
  BINFLOAT: 0x47, // G
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  BINPERSID: 0x51, // Q
  REDUCE: 0x52, // R
  BINSTRING: 0x54, // T
  SHORT_BINSTRING: 0x55, // U
  BINUNICODE: 0x58, // X
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  DICT: 0x64, // d
  APPENDS: 0x65, // e
  BINGET: 0x68, // h
  LONG_BINGET: 0x6a, // j
  LIST: 0x6c, // l
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  SETITEMS: 0x75, // u
  EMPTY_DICT: 0x7d, // }
  EMPTY_LIST: 0x5d, // ]
  EMPTY_TUPLE: 0x29, // )
  PROTO: 0x80,
  NEWOBJ: 0x81,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  BYTEARRAY8: 0x96,
} as const;

export function unpickle(bytes: Uint8Array, options: UnpickleOptions): UnpickleResult {
  return new Unpickler(bytes, options).run();
}

class Unpickler {
  private position: number;
  private opcodeOffset = 0;
  private stack: unknown[] = [];
  private readonly markedStacks: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly view: DataView;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });
  private readonly latin1 = new TextDecoder('latin1');

  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.position = options.start ?? 0;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  run(): UnpickleResult {
    for (;;) {
      this.opcodeOffset = this.position;
      const opcode = this.readUint8();
      if (opcode === OP.STOP) return { value: this.pop(), end: this.position };
      this.execute(opcode);
    }
  }

  private execute(opcode: number): void {
    switch (opcode) {
      case OP.PROTO: {
        const protocol = this.readUint8();
        if (protocol > HIGHEST_PROTOCOL) this.fail(`unsupported pickle protocol ${protocol}`);
        return;
      }
      case OP.FRAME:
        this.readLength(8); // frames only group opcodes for buffered reading
        return;
      case OP.MARK:
        this.markedStacks.push(this.stack);
        this.stack = [];
        return;
      case OP.POP:
        if (this.stack.length > 0) this.stack.pop();
        else this.popMark();
        return;
      case OP.POP_MARK:
        this.popMark();
        return;
      case OP.DUP:
        return this.push(this.top());

      case OP.NONE:
        return this.push(null);
      case OP.NEWTRUE:
        return this.push(true);
      case OP.NEWFALSE:
        return this.push(false);
      case OP.BININT:
        return this.push(this.readInt32());
      case OP.BININT1:
        return this.push(this.readUint8());
      case OP.BININT2:
        return this.push(this.readUint16());
      case OP.LONG1:
        return this.push(this.readLong(this.readUint8()));
      case OP.LONG4:
        return this.push(this.readLong(this.readLength(4)));
      case OP.BINFLOAT: {
        const value = this.view.getFloat64(this.advance(8), false);
        return this.push(value);
      }

      case OP.SHORT_BINUNICODE:
        return this.push(this.readText(this.readUint8(), this.utf8));
      case OP.BINUNICODE:
        return this.push(this.readText(this.readLength(4), this.utf8));
      case OP.BINUNICODE8:
        return this.push(this.readText(this.readLength(8), this.utf8));
      // Python 2 str, as found in old legacy checkpoints.
      case OP.SHORT_BINSTRING:
        return this.push(this.readText(this.readUint8(), this.latin1));
      case OP.BINSTRING:
        return this.push(this.readText(this.readLength(4), this.latin1));
      case OP.SHORT_BINBYTES:
        return this.push(this.readBytes(this.readUint8()));
      case OP.BINBYTES:
        return this.push(this.readBytes(this.readLength(4)));
      case OP.BINBYTES8:
      case OP.BYTEARRAY8:
        return this.push(this.readBytes(this.readLength(8)));

      case OP.EMPTY_TUPLE:
      case OP.EMPTY_LIST:
        return this.push([]);
      case OP.EMPTY_DICT:
        return this.push(new Map());
      case OP.TUPLE:
      case OP.LIST:
        return this.push(this.popMark());
      case OP.TUPLE1:
        return this.push(this.popItems(1));
      case OP.TUPLE2:
        return this.push(this.popItems(2));
      case OP.TUPLE3:
        return this.push(this.popItems(3));
      case OP.DICT: {
        const dict = new Map();
        this.setPairs(dict, this.popMark());
        return this.push(dict);
      }
      case OP.SETITEM: {
        const [key, value] = this.popItems(2);
        this.setPairs(this.topDict(), [key, value]);
        return;
      }
      case OP.SETITEMS: {
        const items = this.popMark();
        this.setPairs(this.topDict(), items);
        return;
      }
      case OP.APPEND: {
        const value = this.pop();
        this.topList().push(value);
        return;
      }
      case OP.APPENDS: {
        const items = this.popMark();
        const list = this.topList();
        for (const item of items) list.push(item);
        return;
      }

      case OP.BINPUT:
        this.memo.set(this.readUint8(), this.top());
        return;
      case OP.LONG_BINPUT:
        this.memo.set(this.readLength(4), this.top());
        return;
      case OP.MEMOIZE:
        this.memo.set(this.memo.size, this.top());
        return;
      case OP.BINGET:
        return this.push(this.recall(this.readUint8()));
      case OP.LONG_BINGET:
        return this.push(this.recall(this.readLength(4)));

      case OP.GLOBAL: {
        const module = this.readLine();
        const name = this.readLine();
        return this.push(this.resolveGlobal(module, name));
      }
      case OP.STACK_GLOBAL: {
        const [module, name] = this.popItems(2);
        if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL needs two strings');
        return this.push(this.resolveGlobal(module, name));
      }
      case OP.REDUCE:
      case OP.NEWOBJ: {
        const [callable, args] = this.popItems(2);
        return this.push(this.call(callable, args));
      }
      case OP.BUILD: {
        this.pop();
        // Only dicts get state: an OrderedDict's instance attributes (a state_dict's `_metadata`
        // version table), which loading weights does not need.
        if (!(this.top() instanceof Map)) this.fail('BUILD on an object that accepts no state');
        return;
      }
      case OP.BINPERSID: {
        const persistentId = this.pop();
        if (!this.options.persistentLoad) this.fail('persistent id found where none is allowed');
        return this.push(this.withContext(() => this.options.persistentLoad!(persistentId)));
      }
      default:
        this.fail(`unsupported pickle opcode 0x${opcode.toString(16).padStart(2, '0')}`);
    }
  }

  private resolveGlobal(module: string, name: string): unknown {
    const qualifiedName = `${module}.${name}`;
    if (!this.options.globals.has(qualifiedName)) this.fail(`refusing to load global ${qualifiedName}`);
    return this.options.globals.get(qualifiedName);
  }

  private call(callable: unknown, args: unknown): unknown {
    if (!(callable instanceof PickleCallable)) this.fail('call of a non-callable value');
    if (!Array.isArray(args)) this.fail(`${callable.qualifiedName} called without an argument tuple`);
    return this.withContext(() => callable.invoke(args));
  }

  /** Callbacks describe what is wrong; this adds where it is. */
  private withContext<T>(callback: () => T): T {
    try {
      return callback();
    } catch (error) {
      if (error instanceof WeightFormatError) this.fail(error.message);
      throw error;
    }
  }

  private setPairs(dict: Map<unknown, unknown>, items: unknown[]): void {
    if (items.length % 2 !== 0) this.fail('odd number of dict items');
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  }

  private push(value: unknown): void {
    this.stack.push(value);
  }

  private pop(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private topDict(): Map<unknown, unknown> {
    const dict = this.top();
    if (!(dict instanceof Map)) this.fail('SETITEM(S) target is not a dict');
    return dict;
  }

  private topList(): unknown[] {
    const list = this.top();
    if (!Array.isArray(list)) this.fail('APPEND(S) target is not a list');
    return list;
  }

  private popItems(count: number): unknown[] {
    if (this.stack.length < count) this.fail('stack underflow');
    return this.stack.splice(this.stack.length - count, count);
  }

  private popMark(): unknown[] {
    const items = this.stack;
    const outer = this.markedStacks.pop();
    if (!outer) this.fail('no MARK to pop to');
    this.stack = outer;
    return items;
  }

  private recall(index: number): unknown {
    if (!this.memo.has(index)) this.fail(`memo slot ${index} is empty`);
    return this.memo.get(index);
  }

  /** Returns the offset of `count` bytes and moves past them. */
  private advance(count: number): number {
    const at = this.position;
    if (count > this.bytes.length - at) this.fail(`needs ${count} bytes but only ${this.bytes.length - at} remain`);
    this.position += count;
    return at;
  }

  private readUint8(): number {
    return this.bytes[this.advance(1)];
  }

  private readUint16(): number {
    return this.view.getUint16(this.advance(2), true);
  }

  private readInt32(): number {
    return this.view.getInt32(this.advance(4), true);
  }

  /** An unsigned 4- or 8-byte length or index; anything beyond the input is rejected later by advance(). */
  private readLength(width: 4 | 8): number {
    const at = this.advance(width);
    const value = width === 4 ? this.view.getUint32(at, true) : this.view.getBigUint64(at, true);
    return typeof value === 'bigint' ? (value > BigInt(this.bytes.length) ? Infinity : Number(value)) : value;
  }

  /** Little-endian two's complement integer of `length` bytes. */
  private readLong(length: number): number | bigint {
    if (length > MAX_LONG_BYTES) this.fail(`integer of ${length} bytes exceeds the ${MAX_LONG_BYTES}-byte limit`);
    const bytes = this.readBytes(length);
    let value = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
    if (length > 0 && bytes[length - 1] & 0x80) value -= 1n << BigInt(8 * length);
    const asNumber = Number(value);
    return Number.isSafeInteger(asNumber) ? asNumber : value;
  }

  private readBytes(count: number): Uint8Array {
    const at = this.advance(count);
    return this.bytes.slice(at, at + count);
  }

  private readText(count: number, decoder: TextDecoder): string {
    const at = this.advance(count);
    try {
      return decoder.decode(this.bytes.subarray(at, at + count));
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }

  private readLine(): string {
    const limit = Math.min(this.bytes.length, this.position + MAX_GLOBAL_NAME_LENGTH);
    const newline = this.bytes.subarray(this.position, limit).indexOf(0x0a);
    if (newline < 0) this.fail('GLOBAL name is not newline-terminated');
    const text = this.readText(newline, this.utf8);
    this.position++;
    return text;
  }

  private fail(problem: string): never {
    throw new WeightFormatError(`${this.options.source}: pickle offset ${this.opcodeOffset}: ${problem}`);
  }
}

/**
 * A safe evaluator for analysis conditions (`successCondition`, `failureCondition`): the subset
 * of Argo Rollouts' expression language (expr-lang) that conditions use in practice, over one
 * variable, `result`. The text is parsed by jsep into an AST and compiled into closures here;
 * nothing is ever handed to `eval` or `Function`, and only own properties of plain data are
 * reachable, so a document cannot touch prototypes, globals or the host.
 *
 * Supported: number/string/bool/nil literals, array literals, `result`, `.field` and `[index]`
 * (negative indexes count from the end), `+ - * / % **`, `== != < <= > >=`, `in`, `&& || !`,
 * `and or not`, `?:`, and the functions `len isNaN isInf isNil asInt asFloat default abs min max
 * sum all any none filter map` (predicates as expr-lang closures: `all(result, {# > 0.5})`).
 */
import jsep from 'jsep';

/** What went wrong with a condition, for the document error or the measurement message. */
export type ConditionErrorCode =
  | 'syntax'
  | 'unknown-identifier'
  | 'unknown-function'
  | 'arity'
  | 'unsupported'
  | 'type'
  | 'index'
  | 'not-boolean';

/** A condition that cannot be compiled (apply-time rejection) or evaluated (a measurement Error). */
export class ConditionError extends Error {
  override readonly name = 'ConditionError';
  constructor(
    /** Machine-readable kind of failure. */
    readonly code: ConditionErrorCode,
    /** Why, in words, without the expression (the caller names it). */
    readonly reason: string,
    /** 0-based character offset in the expression, when known. */
    readonly position: number | undefined,
    /** The expression text. */
    readonly expression: string,
  ) {
    super(`condition ${JSON.stringify(expression)}: ${reason}${position === undefined ? '' : ` (at character ${position + 1})`}`);
  }
}

/** A compiled condition: evaluate it against a measurement value as often as needed. */
export interface CompiledCondition {
  /** The source text. */
  readonly text: string;
  /** True or false for `result`; throws {@link ConditionError} on a type error or a non-boolean outcome. */
  evaluate(result: unknown): boolean;
}

// jsep is configured once per process; these additions only extend what it accepts.
let configured = false;
function configureJsep(): void {
  if (configured) return;
  configured = true;
  jsep.addBinaryOp('or', 1);
  jsep.addBinaryOp('and', 2);
  jsep.addBinaryOp('in', 7);
  jsep.addUnaryOp('not');
  jsep.addLiteral('nil', null);
  jsep.addIdentifierChar('#');
  // expr-lang closures `{ # > 0.5 }` as the predicate argument of all/any/none/filter/map.
  jsep.hooks.add('gobble-token', function gobbleClosure(env) {
    if (this.code !== 123 /* { */) return;
    this.index++;
    const body = this.gobbleExpression();
    this.gobbleSpaces();
    // `this.code` is a getter over the current index, which gobbleExpression moved.
    if ((this.code as number) !== 125 /* } */) this.throwError('expected } to close the predicate');
    this.index++;
    env.node = { type: 'Closure', body: body ?? null };
  });
}

type Scope = { result: unknown; item?: unknown };
type Eval = (scope: Scope) => unknown;

const BINARY = new Set(['+', '-', '*', '/', '%', '**', '==', '!=', '<', '<=', '>', '>=', '&&', '||', 'and', 'or', 'in']);
const UNARY = new Set(['!', 'not', '-', '+']);

/**
 * Compiles `text` or throws a {@link ConditionError} naming the first problem and where it is.
 * Use at apply time so a bad expression rejects the document rather than failing a rollout later.
 */
export function compileCondition(text: string): CompiledCondition {
  configureJsep();
  if (text.trim() === '') throw new ConditionError('syntax', 'the expression is empty', 0, text);
  let ast: jsep.Expression;
  try {
    ast = jsep(text);
  } catch (err) {
    const e = err as { index?: number; description?: string; message?: string };
    throw new ConditionError('syntax', e.description ?? e.message ?? 'cannot parse', e.index, text);
  }
  const run = new Compiler(text).compile(ast, false);
  return {
    text,
    evaluate(result: unknown): boolean {
      const value = run({ result });
      if (typeof value !== 'boolean') {
        throw new ConditionError('not-boolean', `expected a boolean outcome, got ${describe(value)}`, undefined, text);
      }
      return value;
    },
  };
}

/** Compiles and evaluates once; convenient for tests and one-off checks. */
export function evaluateCondition(text: string, result: unknown): boolean {
  return compileCondition(text).evaluate(result);
}

class Compiler {
  constructor(private readonly text: string) {}

  private fail(code: ConditionErrorCode, reason: string, near?: string): never {
    const at = near === undefined ? -1 : this.text.indexOf(near);
    throw new ConditionError(code, reason, at >= 0 ? at : undefined, this.text);
  }

  private runtime(code: ConditionErrorCode, reason: string): never {
    throw new ConditionError(code, reason, undefined, this.text);
  }

  compile(node: jsep.Expression, inClosure: boolean): Eval {
    switch (node.type) {
      case 'Literal': {
        const value = (node as jsep.Literal).value;
        if (value instanceof RegExp) this.fail('unsupported', 'regular expression literals are not supported');
        return () => value;
      }
      case 'Identifier': {
        const name = (node as jsep.Identifier).name;
        if (name === 'result') return (s) => s.result;
        if (name === '#') {
          if (!inClosure) this.fail('unknown-identifier', '# is only defined inside a predicate { … }', '#');
          return (s) => s.item;
        }
        return this.fail('unknown-identifier', `unknown name "${name}" (the only variable is result)`, name);
      }
      case 'ArrayExpression': {
        const items = (node as jsep.ArrayExpression).elements.map((el) =>
          el === null ? this.fail('syntax', 'empty array element') : this.compile(el, inClosure));
        return (s) => items.map((item) => item(s));
      }
      case 'MemberExpression':
        return this.member(node as jsep.MemberExpression, inClosure);
      case 'UnaryExpression':
        return this.unary(node as jsep.UnaryExpression, inClosure);
      case 'BinaryExpression':
        return this.binary(node as jsep.BinaryExpression, inClosure);
      case 'ConditionalExpression': {
        const c = node as jsep.ConditionalExpression;
        const test = this.compile(c.test, inClosure);
        const yes = this.compile(c.consequent, inClosure);
        const no = this.compile(c.alternate, inClosure);
        return (s) => (this.bool(test(s), '?:') ? yes(s) : no(s));
      }
      case 'CallExpression':
        return this.call(node as jsep.CallExpression, inClosure);
      case 'Closure':
        return this.fail('unsupported', 'a predicate { … } is only allowed as the second argument of all/any/none/filter/map', '{');
      case 'Compound':
        return this.fail('syntax', 'one expression expected, found several');
      case 'SequenceExpression':
        return this.fail('syntax', 'one expression expected, found a comma-separated sequence');
      case 'ThisExpression':
        return this.fail('unknown-identifier', 'unknown name "this" (the only variable is result)', 'this');
      default:
        return this.fail('unsupported', `unsupported syntax (${node.type})`);
    }
  }

  private member(node: jsep.MemberExpression, inClosure: boolean): Eval {
    const object = this.compile(node.object, inClosure);
    const property = node.property;
    if (!node.computed) {
      const name = (property as jsep.Identifier).name;
      return (s) => this.getKey(object(s), name);
    }
    const key = this.compile(property, inClosure);
    return (s) => {
      const target = object(s);
      const k = key(s);
      if (Array.isArray(target)) {
        if (typeof k !== 'number' || !Number.isInteger(k)) this.runtime('type', `an array index must be an integer, got ${describe(k)}`);
        const i = k < 0 ? target.length + k : k;
        if (i < 0 || i >= target.length) this.runtime('index', `index ${k} out of range (length ${target.length})`);
        return target[i] as unknown;
      }
      if (typeof k !== 'string') this.runtime('type', `cannot index ${describe(target)} with ${describe(k)}`);
      return this.getKey(target, k);
    };
  }

  private getKey(target: unknown, key: string): unknown {
    if (isRecord(target)) return Object.hasOwn(target, key) ? target[key] : null;
    if (target === null || target === undefined) this.runtime('type', `cannot read "${key}" of nil`);
    return this.runtime('type', `cannot read "${key}" of ${describe(target)}`);
  }

  private unary(node: jsep.UnaryExpression, inClosure: boolean): Eval {
    const op = node.operator;
    if (!UNARY.has(op)) this.fail('unsupported', `unsupported operator ${op}`, op);
    const arg = this.compile(node.argument, inClosure);
    if (op === '!' || op === 'not') return (s) => !this.bool(arg(s), op);
    if (op === '-') return (s) => -this.num(arg(s), op);
    return (s) => this.num(arg(s), op);
  }

  private binary(node: jsep.BinaryExpression, inClosure: boolean): Eval {
    const op = node.operator;
    if (!BINARY.has(op)) this.fail('unsupported', `unsupported operator ${op}`, op);
    const l = this.compile(node.left, inClosure);
    const r = this.compile(node.right, inClosure);
    switch (op) {
      case '&&': case 'and': return (s) => this.bool(l(s), op) && this.bool(r(s), op);
      case '||': case 'or': return (s) => this.bool(l(s), op) || this.bool(r(s), op);
      case '==': return (s) => equal(l(s), r(s));
      case '!=': return (s) => !equal(l(s), r(s));
      case 'in': return (s) => {
        const needle = l(s);
        const hay = r(s);
        if (Array.isArray(hay)) return hay.some((x) => equal(x, needle));
        if (isRecord(hay) && typeof needle === 'string') return Object.hasOwn(hay, needle);
        return this.runtime('type', `"in" needs an array or an object on the right, got ${describe(hay)}`);
      };
      case '<': case '<=': case '>': case '>=': return (s) => this.compare(op, l(s), r(s));
      case '+': return (s) => {
        const a = l(s);
        const b = r(s);
        if (typeof a === 'string' && typeof b === 'string') return a + b;
        return this.num(a, op) + this.num(b, op);
      };
      case '-': return (s) => this.num(l(s), op) - this.num(r(s), op);
      case '*': return (s) => this.num(l(s), op) * this.num(r(s), op);
      case '/': return (s) => this.num(l(s), op) / this.num(r(s), op);
      case '%': return (s) => {
        const a = this.num(l(s), op);
        const b = this.num(r(s), op);
        if (b === 0) this.runtime('type', 'modulo by zero');
        return a % b;
      };
      default: return (s) => this.num(l(s), op) ** this.num(r(s), op);
    }
  }

  private compare(op: string, a: unknown, b: unknown): boolean {
    if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))) {
      this.runtime('type', `cannot compare ${describe(a)} ${op} ${describe(b)}`);
    }
    switch (op) {
      case '<': return a < b;
      case '<=': return a <= b;
      case '>': return a > b;
      default: return a >= b;
    }
  }

  private call(node: jsep.CallExpression, inClosure: boolean): Eval {
    if (node.callee.type !== 'Identifier') this.fail('unsupported', 'only named functions can be called');
    const name = (node.callee as jsep.Identifier).name;
    const fn = FUNCTIONS[name];
    if (!fn) return this.fail('unknown-function', `unknown function ${name}() (known: ${Object.keys(FUNCTIONS).join(', ')})`, name);
    const argNodes = node.arguments;
    if (argNodes.length < fn.min || argNodes.length > fn.max) {
      const want = fn.min === fn.max ? `${fn.min}` : `${fn.min} to ${fn.max}`;
      this.fail('arity', `${name}() takes ${want} argument(s), got ${argNodes.length}`, name);
    }
    if (fn.predicate) {
      const list = this.compile(argNodes[0]!, inClosure);
      const predNode = argNodes[1]!;
      // A bare expression using # is accepted as well as expr-lang's `{ … }` closure.
      const body = predNode.type === 'Closure' ? (predNode.body as jsep.Expression | null) : predNode;
      if (!body) this.fail('syntax', `${name}() needs a predicate such as {# > 0}`, name);
      const pred = this.compile(body, true);
      return (s) => {
        const items = list(s);
        if (!Array.isArray(items)) this.runtime('type', `${name}() needs an array, got ${describe(items)}`);
        return fn.predicate!(items, (item) => pred({ result: s.result, item }), this);
      };
    }
    const args = argNodes.map((a) => this.compile(a, inClosure));
    return (s) => fn.apply!(args.map((a) => a(s)), this);
  }

  bool(v: unknown, op: string): boolean {
    if (typeof v !== 'boolean') this.runtime('type', `${op} needs booleans, got ${describe(v)}`);
    return v;
  }

  num(v: unknown, op: string): number {
    if (typeof v !== 'number') this.runtime('type', `${op} needs numbers, got ${describe(v)}`);
    return v;
  }

  fn(code: ConditionErrorCode, reason: string): never {
    return this.runtime(code, reason);
  }
}

interface FunctionDef {
  min: number;
  max: number;
  apply?: (args: unknown[], c: Compiler) => unknown;
  predicate?: (items: unknown[], test: (item: unknown) => unknown, c: Compiler) => unknown;
}

const FUNCTIONS: Record<string, FunctionDef> = {
  len: { min: 1, max: 1, apply: ([v], c) => {
    if (Array.isArray(v) || typeof v === 'string') return v.length;
    if (isRecord(v)) return Object.keys(v).length;
    return c.fn('type', `len() needs an array, a string or an object, got ${describe(v)}`);
  } },
  isNaN: { min: 1, max: 1, apply: ([v], c) => Number.isNaN(c.num(v, 'isNaN()')) },
  isInf: { min: 1, max: 1, apply: ([v], c) => {
    const n = c.num(v, 'isInf()');
    return n === Infinity || n === -Infinity;
  } },
  isNil: { min: 1, max: 1, apply: ([v]) => v === null || v === undefined },
  asInt: { min: 1, max: 1, apply: ([v], c) => {
    const n = typeof v === 'string' ? Number(v.trim()) : v;
    if (typeof n !== 'number' || Number.isNaN(n) || (typeof v === 'string' && (v.trim() === '' || !Number.isInteger(n)))) {
      return c.fn('type', `asInt() cannot convert ${describe(v)}`);
    }
    return Math.trunc(n);
  } },
  asFloat: { min: 1, max: 1, apply: ([v], c) => {
    if (typeof v === 'number') return v;
    if (typeof v === 'string' && v.trim() !== '') {
      const t = v.trim();
      const n = /^[+-]?inf$/i.test(t) ? (t.startsWith('-') ? -Infinity : Infinity) : /^nan$/i.test(t) ? NaN : Number(t);
      if (!Number.isNaN(n) || /^nan$/i.test(t)) return n;
    }
    return c.fn('type', `asFloat() cannot convert ${describe(v)}`);
  } },
  default: { min: 2, max: 2, apply: ([v, d]) => (v === null || v === undefined ? d : v) },
  abs: { min: 1, max: 1, apply: ([v], c) => Math.abs(c.num(v, 'abs()')) },
  min: { min: 1, max: 8, apply: (args, c) => Math.min(...numbers(args, 'min()', c)) },
  max: { min: 1, max: 8, apply: (args, c) => Math.max(...numbers(args, 'max()', c)) },
  sum: { min: 1, max: 1, apply: (args, c) => numbers(args, 'sum()', c).reduce((a, b) => a + b, 0) },
  all: { min: 2, max: 2, predicate: (items, test, c) => items.every((x) => c.bool(test(x), 'all()')) },
  any: { min: 2, max: 2, predicate: (items, test, c) => items.some((x) => c.bool(test(x), 'any()')) },
  none: { min: 2, max: 2, predicate: (items, test, c) => !items.some((x) => c.bool(test(x), 'none()')) },
  filter: { min: 2, max: 2, predicate: (items, test, c) => items.filter((x) => c.bool(test(x), 'filter()')) },
  map: { min: 2, max: 2, predicate: (items, test) => items.map((x) => test(x)) },
};

/** min/max/sum accept numbers or one array of numbers. */
function numbers(args: unknown[], op: string, c: Compiler): number[] {
  const list = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  if (list.length === 0 && op !== 'sum()') return c.fn('type', `${op} of an empty list`);
  return list.map((v) => c.num(v, op));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined) return b === null;
  if (b === undefined) return a === null;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
  }
  return false;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (Array.isArray(v)) return `an array (${v.length} items)`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number') return `number ${v}`;
  if (typeof v === 'boolean') return `bool ${v}`;
  return typeof v;
}

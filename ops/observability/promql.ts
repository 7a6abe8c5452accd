// The metric names a PromQL expression reads, for the tests that hold every rule and panel to the
// series Chorus really exposes. Not a parser: it knows the constructs used in this folder
// (selectors, `{__name__=~"a|b"}`, ranges, aggregation modifiers, vector matching, functions).
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/__name__\s*=~?\s*"([^"]+)"/g)) for (const n of (m[1] as string).split('|')) names.add(n);
  const bare = expr
    .replace(/\{[^}]*\}/g, ' ') // label matchers (strings inside them included)
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ') // remaining string literals (label_replace arguments)
    .replace(/\[[^\]]*\]/g, ' ') // ranges, $__rate_interval
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  for (const m of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name, call] = m as unknown as [string, string, string | undefined];
    if (call || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

const indentOf = (line: string) => line.length - line.trimStart().length;

/** `expr:` and `record:` values of a rule file (the files use `expr: |-` blocks or one-line exprs). */
export function ruleExpressions(yaml: string): { name: string; expr: string }[] {
  const out: { name: string; expr: string }[] = [];
  const lines = yaml.split('\n');
  let name = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const head = /^\s*- (?:alert|record): (\S+)/.exec(line);
    if (head) name = head[1] as string;
    const m = /^(\s*)expr: (.*)$/.exec(line);
    if (!m) continue;
    if (m[2] !== '|-') {
      out.push({ name, expr: m[2] as string });
      continue;
    }
    const body: string[] = [];
    const indent = (m[1] as string).length;
    while (i + 1 < lines.length && ((lines[i + 1] as string).trim() === '' || indentOf(lines[i + 1] as string) > indent)) {
      body.push((lines[++i] as string).trim());
    }
    out.push({ name, expr: body.join('\n') });
  }
  return out;
}

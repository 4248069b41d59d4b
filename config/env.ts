/**
 * `${VAR}` in string values of the config, taken from the environment (secrets stay out of the
 * file). `$${` writes a literal `${`. Keys are never substituted.
 */
export interface EnvProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const TOKEN = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Returns a copy of `data` with every string substituted, and a problem per missing or malformed variable. */
export function substituteEnv(
  data: unknown,
  env: Readonly<Record<string, string | undefined>>,
): { value: unknown; problems: EnvProblem[] } {
  const problems: EnvProblem[] = [];
  const walk = (value: unknown, path: (string | number)[]): unknown => {
    if (typeof value === "string") return substitute(value, env, (message) => problems.push({ path, message }));
    if (Array.isArray(value)) return value.map((item, i) => walk(item, [...path, i]));
    if (typeof value === "object" && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return value;
  };
  return { value: walk(data, []), problems };
}

function substitute(text: string, env: Readonly<Record<string, string | undefined>>, report: (message: string) => void): string {
  if (!text.includes("${")) return text;
  return text.replace(TOKEN, (token, name: string | undefined) => {
    if (token === "$${") return "${";
    if (name === undefined) {
      report("\"${\" is not closed: write ${NAME}, or $${ for a literal ${");
      return token;
    }
    if (!NAME.test(name)) {
      report(`"\${${name}}" is not a variable name: use letters, digits and _ (write $\${ for a literal \${)`);
      return token;
    }
    const value = env[name];
    if (value === undefined) {
      report(`environment variable ${name} is not set: set it, or write the value in the file`);
      return token;
    }
    return value;
  });
}

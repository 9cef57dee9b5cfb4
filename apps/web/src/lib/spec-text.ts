// The sweep editor's text: JSON or YAML (YAML 1.2 core schema, as the CLI reads sweep files), parsed
// to a value or to an error with its line and column, and a request printed in either format.
import yaml from 'js-yaml';

export type SpecFormat = 'json' | 'yaml';

export type ParsedSpec = { readonly value: unknown } | { readonly error: string; readonly line: number | null; readonly column: number | null };

/** Line and column (1-based) of a character offset. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

function yamlMark(text: string): { line: number; column: number } | null {
  try {
    yaml.load(text, { schema: yaml.CORE_SCHEMA });
    return null;
  } catch (err) {
    return err instanceof yaml.YAMLException && err.mark ? { line: err.mark.line + 1, column: err.mark.column + 1 } : null;
  }
}

export function parseSpecText(text: string, format: SpecFormat): ParsedSpec {
  if (text.trim() === '') return { error: 'the editor is empty', line: null, column: null };
  if (format === 'json') {
    try {
      return { value: JSON.parse(text) as unknown };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const lineCol = /line (\d+) column (\d+)/.exec(message);
      if (lineCol) return { error: message, line: Number(lineCol[1]), column: Number(lineCol[2]) };
      const at = /position (\d+)/.exec(message);
      if (at) return { error: message, ...position(text, Number(at[1])) };
      // V8 often names no position; JSON is YAML, and the YAML parser says where it broke.
      const mark = yamlMark(text);
      return { error: message, line: mark?.line ?? null, column: mark?.column ?? null };
    }
  }
  try {
    return { value: yaml.load(text, { schema: yaml.CORE_SCHEMA }) };
  } catch (err) {
    if (err instanceof yaml.YAMLException) {
      return { error: err.reason, line: err.mark ? err.mark.line + 1 : null, column: err.mark ? err.mark.column + 1 : null };
    }
    return { error: err instanceof Error ? err.message : String(err), line: null, column: null };
  }
}

export function formatSpec(value: unknown, format: SpecFormat): string {
  return format === 'json' ? JSON.stringify(value, null, 2) : yaml.dump(value, { lineWidth: 120, noRefs: true });
}

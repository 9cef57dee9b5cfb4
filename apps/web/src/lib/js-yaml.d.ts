// The part of js-yaml 4 the dashboard uses (the package ships no types).
declare module 'js-yaml' {
  export interface Schema {
    readonly __brand: 'js-yaml.Schema';
  }
  export const CORE_SCHEMA: Schema;
  export interface Mark {
    name: string | null;
    line: number;
    column: number;
  }
  export class YAMLException extends Error {
    reason: string;
    mark: Mark | undefined;
  }
  export function load(text: string, options?: { schema?: Schema; json?: boolean }): unknown;
  export function dump(value: unknown, options?: { schema?: Schema; lineWidth?: number; noRefs?: boolean; flowLevel?: number }): string;
  const yaml: { load: typeof load; dump: typeof dump; CORE_SCHEMA: Schema; YAMLException: typeof YAMLException };
  export default yaml;
}

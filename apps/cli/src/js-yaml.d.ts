// The part of js-yaml 4 the CLI uses (the package ships no types; @types/js-yaml would be one more dependency).
declare module 'js-yaml' {
  export interface Schema {
    readonly __brand: 'js-yaml.Schema';
  }
  export const CORE_SCHEMA: Schema;
  export const JSON_SCHEMA: Schema;
  export interface LoadOptions {
    filename?: string;
    schema?: Schema;
    json?: boolean;
  }
  export function load(text: string, options?: LoadOptions): unknown;
  export interface Mark {
    name: string | null;
    line: number;
    column: number;
    snippet?: string;
  }
  export class YAMLException extends Error {
    reason: string;
    mark: Mark | undefined;
  }
  const yaml: { load: typeof load; CORE_SCHEMA: Schema; JSON_SCHEMA: Schema; YAMLException: typeof YAMLException };
  export default yaml;
}

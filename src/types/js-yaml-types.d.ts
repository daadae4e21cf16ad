// js-yaml exports its built-in scalar types at run time and takes a nesting limit (4.1+); @types/js-yaml declares neither.
import 'js-yaml';

declare module 'js-yaml' {
  interface Type {
    tag: string;
  }
  interface LoadOptions {
    /** How deeply maps and lists may nest; js-yaml refuses deeper input (default 100). */
    maxDepth?: number;
  }
  export const types: Record<'null' | 'bool' | 'int' | 'float' | 'str' | 'map' | 'seq', Type>;
}

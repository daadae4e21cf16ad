// js-yaml exports its built-in scalar types at run time; @types/js-yaml does not declare them.
import 'js-yaml';

declare module 'js-yaml' {
  interface Type {
    tag: string;
  }
  export const types: Record<'null' | 'bool' | 'int' | 'float' | 'str' | 'map' | 'seq', Type>;
}

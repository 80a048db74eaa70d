/**
 * The part of js-yaml 4 that lockfiles/pnpm-fast.ts uses (https://github.com/nodeca/js-yaml#api).
 * Declared here, not taken from @types/js-yaml, to keep node_modules as it is.
 */
declare module 'js-yaml' {
  export class Type {
    constructor(tag: string, options: { kind: 'scalar'; resolve: (data: string) => boolean; construct: (data: string) => unknown });
  }
  export class Schema {
    extend(types: { implicit?: Type[]; explicit?: Type[] }): Schema;
  }
  export const FAILSAFE_SCHEMA: Schema;
  export function load(text: string, options?: { schema?: Schema }): unknown;
}

// Type declarations for dependencies that ship none.
declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  /** Template-literal tag: `#if ${cond}` / `#elif ${cond}` / `#else` / `#endif` select text; other `${v}` interpolate. */
  export function wgsl(strings: TemplateStringsArray, ...values: unknown[]): string;
}

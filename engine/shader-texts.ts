// Every shaders/*.wgsl file as text, by name, in built code: the package build (tools/build-package.ts)
// and the browser bundle (tools/build-browser.ts) replace this module with the embedded texts, so a
// consumer's bundler needs no loader for .wgsl files. Run from source, shaders are read from disk.
export const EMBEDDED_SHADERS: Readonly<Record<string, string>> | null = null;

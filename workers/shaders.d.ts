// Every shaders/*.wgsl file by name, embedded as text by tools/build-browser.ts.
declare module 'purify:shaders' {
  const sources: Record<string, string>;
  export default sources;
}

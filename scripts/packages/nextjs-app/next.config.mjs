// trainpod is a native addon: route handlers `require` it at run time instead of bundling it.
export default {
  serverExternalPackages: ['trainpod'],
  turbopack: { root: import.meta.dirname },
  outputFileTracingRoot: import.meta.dirname,
};

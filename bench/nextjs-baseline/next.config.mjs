// This directory is the app's root, whatever lockfiles the repository holds above it.
const config = {
  turbopack: { root: import.meta.dirname },
  outputFileTracingRoot: import.meta.dirname,
};

export default config;

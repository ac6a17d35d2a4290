import type { NextConfig } from 'next';

const config: NextConfig = {
  // trainpod is a native addon: route handlers must `require` it at run time, not bundle it.
  // It must also be a real directory in node_modules (a tarball or `npm install --install-links`,
  // see .npmrc), not a symlink out of the project: Turbopack does not externalize those.
  serverExternalPackages: ['trainpod'],
  // This directory is the app's root, whatever lockfiles the repository holds above it.
  turbopack: { root: import.meta.dirname },
  outputFileTracingRoot: import.meta.dirname,
  // test.sh runs `tsc --noEmit` just before `next build`: no need to check the types twice there.
  typescript: { ignoreBuildErrors: process.env.TRAINPOD_TYPECHECKED === '1' },
};

export default config;

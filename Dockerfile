# The certkeeper operator image: TypeScript compiled in a build stage, then
# Node.js 24 LTS with production dependencies only, running as a non-root
# numeric user on a read-only root filesystem.
#   docker build -t ghcr.io/certkeeper/certkeeper:0.1.0 .
ARG NODE_IMAGE=node:24-bookworm-slim
# The build stages' base (npm, TypeScript); the runtime's by default. The tests'
# image build (tools/build-image.sh) passes a local base with npm and the
# machine's CA bundle here, and a base without npm as NODE_IMAGE.
ARG BUILD_IMAGE=${NODE_IMAGE}

# Build: all dependencies (TypeScript), then dist/. No install scripts: the only
# one is the `node` devDependency's, which would download a second Node binary.
FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only (none of them has an install script).
FROM ${BUILD_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Runtime: node, the compiled operator and its production dependencies; no npm.
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="certkeeper" \
      org.opencontainers.image.description="Kubernetes operator for ACME certificates: one registration per EAB key, ever" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
# Numeric, so that Kubernetes can verify runAsNonRoot; nothing is written to the image at run time.
USER 65532:65532
# A 1 MiB young generation: the operator's garbage is short-lived, and V8's
# default (16 MiB semi-spaces) costs ~100 MiB of resident memory at 10,000
# Certificates. `npm run bench` starts the operator with these same flags.
ENTRYPOINT ["node", "--max-semi-space-size=1", "bin/certkeeper.js"]
CMD ["controller"]

# The certkeeper operator image: TypeScript bundled in a build stage, then
# Node.js 24 LTS with the bundle only, running as a non-root
# numeric user on a read-only root filesystem.
#   docker build -t ghcr.io/certkeeper/certkeeper:0.1.0 .
ARG NODE_IMAGE=node:24-bookworm-slim
# The build stages' base (npm, TypeScript); the runtime's by default. The tests'
# image build (tools/build-image.sh) passes a local base with npm and the
# machine's CA bundle here, and a base without npm as NODE_IMAGE.
ARG BUILD_IMAGE=${NODE_IMAGE}

# Build: all dependencies (TypeScript, esbuild), then one bundle of the operator
# and its production dependencies (scripts/bundle.ts). No install scripts: the
# only one is the `node` devDependency's, which would download a second Node binary.
FROM ${BUILD_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle.ts ./scripts/
COPY src ./src
RUN node scripts/bundle.ts

# Runtime: node and the bundled operator (no node_modules, no npm). package.json
# only says the bundle is ES modules.
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="certkeeper" \
      org.opencontainers.image.description="Kubernetes operator for ACME certificates: one registration per EAB key, ever" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack
ENV NODE_ENV=production
# glibc malloc tuned for a long-running process whose memory is mostly caches:
# allocations from 64 KiB up get their own mapping, returned when freed (the
# default threshold grows to 32 MiB after the start-up burst, whose freed
# buffers then stay resident in the main heap), two arenas, and free memory
# at the top of the heap given back above 128 KiB. About 7 MiB less resident
# at 10,000 Certificates (`npm run bench` starts the operator with these too).
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=65536 MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app
COPY package.json ./
COPY --from=build /app/dist-bundle ./dist
COPY bin ./bin
# Numeric, so that Kubernetes can verify runAsNonRoot; nothing is written to the image at run time.
USER 65532:65532
# A 1 MiB young generation: the operator's garbage is short-lived, and V8's
# default (16 MiB semi-spaces) costs ~100 MiB of resident memory at 10,000
# Certificates. --optimize-for-size: V8 grows the heap in smaller steps, so
# the start-up sync's garbage peaks ~30 MiB lower (measured at 10,000
# Certificates). --no-opt --no-maglev: no optimizing compilers (bytecode and
# V8's baseline code only): 12 MiB less resident settled and ~20 MiB lower
# peaks at 10,000 (their code and compile buffers), for ~20 % more CPU per
# issuance and the same throughput (I/O-bound; crypto and JSON are native).
# --no-incremental-marking-task: V8 finishes a full collection as soon as its
# marking is done instead of waiting up to 50 ms for an event-loop task
# (which a busy start-up runs late); while it waited, nothing was collected
# and the heap grew by all that was allocated, 10-25 MiB over the settled
# heap at 10,000 Certificates. With it the start-up peak at 10,000 fell from +16-25 % of the
# settled figure to +5-15 %, and the settled figure by ~5 MiB (scratch
# restarts; README Performance).
# `npm run bench` starts the operator with these same flags.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--optimize-for-size", "--no-incremental-marking-task", "--no-opt", "--no-maglev", "bin/certkeeper.js"]
CMD ["controller"]

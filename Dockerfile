# syntax=docker/dockerfile:1
# One image for the api (which serves the dashboard), the worker and the one-shot migrations.
# Stages: deps (npm ci from the lockfile) → build (WASM kernels, Prisma client, replica-thread
# bundle, dashboard, and the JavaScript bundles of every process: scripts/build-dist.mjs) → runtime
# (production dependencies only, non-root user, plain `node` on built JavaScript: no TypeScript
# loader). The processes: node apps/api/dist/main.js (the default), node apps/worker/dist/main.js,
# node packages/db/dist/migrate-cli.js, and the CLI as node apps/cli/dist/hypersweep.js.

FROM node:20-bookworm-slim AS deps
WORKDIR /app
ENV TURBO_TELEMETRY_DISABLED=1 NPM_CONFIG_UPDATE_NOTIFIER=false
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY packages/nn/package.json packages/nn/
COPY packages/datasets/package.json packages/datasets/
COPY packages/trainer/package.json packages/trainer/
COPY packages/search/package.json packages/search/
COPY packages/db/package.json packages/db/
COPY packages/schemas/package.json packages/schemas/
COPY packages/client/package.json packages/client/
COPY packages/queue/package.json packages/queue/
COPY packages/log/package.json packages/log/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
COPY apps/web/package.json apps/web/
COPY apps/local/package.json apps/local/
COPY test/package.json test/
RUN npm ci --no-audit --no-fund

FROM deps AS build
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0
WORKDIR /app
# The node image's unprivileged user (uid 1000); nothing in the image runs as root.
COPY --from=build --chown=node:node /app/package.json /app/package-lock.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/packages ./packages
COPY --from=build --chown=node:node /app/apps ./apps
COPY --from=build --chown=node:node /app/prisma ./prisma
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "apps/api/dist/main.js"]

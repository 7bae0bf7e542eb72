# syntax=docker/dockerfile:1
# One image for the API, the workers and the migration job (the command picks the role):
#   node dist/api/main.js | node dist/worker/main.js | node dist/scripts/migrate.js
# Debian (glibc), not Alpine: @temporalio/core-bridge ships prebuilt native binaries for
# linux x64/arm64 glibc only.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV CI=true
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY api ./api
COPY activities ./activities
COPY config ./config
COPY db ./db
COPY domain ./domain
COPY observability ./observability
COPY scripts ./scripts
COPY worker ./worker
COPY workflows ./workflows
# tsc + the prebuilt workflow bundle (dist/workflow-bundle.js), then drop the dev dependencies
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && npm cache clean --force

# ---------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
# owned by root and not writable by the runtime user: the app never writes to its own files
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# the finance console's static files (GET /console): served as they are, from beside dist/
COPY --from=build /app/api/console/public ./api/console/public
# the image's unprivileged `node` user, by number (uid/gid 1000) so that Kubernetes'
# runAsNonRoot can verify it without a runAsUser
USER 1000:1000
# 3000: API (HTTP + /metrics); 9464: worker /metrics and /health/*
EXPOSE 3000 9464
STOPSIGNAL SIGTERM
CMD ["node", "dist/api/main.js"]

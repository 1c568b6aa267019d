# One image for every role: `docker run event-planner coordinator` (or host, guest).
# Build: docker build -t event-planner .    (skaffold does this for `skaffold dev`)
# No `# syntax=` line and no BuildKit-only instruction: the classic builder (DOCKER_BUILDKIT=0, a
# Docker without buildx) and BuildKit both build it, and no frontend image is pulled.

ARG NODE_IMAGE=node:24-bookworm-slim

# Compiles services/ to dist/ (TypeScript to JavaScript, Lua scripts copied beside it).
# checkov:skip=CKV_DOCKER_7: the base image is the ARG above, pinned to node:24-bookworm-slim; checkov does not expand ARGs
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.ts scripts/
COPY services/ services/
RUN npm run build

# Production dependencies only: no compiler, linter or test runner in the runtime image.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# Who built the image: skaffold passes BUILT_BY=skaffold, so its image never has the ID of one
# built by hand from the same sources (`skaffold dev` removes its images by ID when it exits, and
# `docker rmi -f <id>` would take the hand-made tag with it).
ARG BUILT_BY=docker
LABEL org.opencontainers.image.title=event-planner org.event-planner.built-by=${BUILT_BY}
# tini as PID 1 forwards SIGTERM to node and reaps zombies (what `docker run --init` would add).
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules/ node_modules/
COPY --from=build /app/dist/ dist/
COPY package.json ./
# Numeric, so Kubernetes can check runAsNonRoot against it (the node user of the base image).
USER 1000:1000
# checkov:skip=CKV_DOCKER_2: Kubernetes ignores HEALTHCHECK; the chart probes /healthz and /readyz on the role's PORT, which differs per role
EXPOSE 8080 8081 8082
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/services/main.js"]

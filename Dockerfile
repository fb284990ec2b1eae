# graylane's controller image: `graylane install kubernetes` and the Helm chart run it.
#   docker build -t ghcr.io/graylane/graylane:0.1.0 .
# The Node major matches package.json's engines (a test keeps them in step).

# Build: every dependency (TypeScript included), then the compiled CLI in dist/.
FROM node:20-bookworm-slim AS build
# better-sqlite3 builds from source where no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the prepare script builds, and the sources are not copied yet.
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
# The bundle step of the build (dist/bundle, what bin/graylane.js runs).
COPY scripts/bundle.mjs scripts/bundle-check.mjs ./scripts/
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev

# Runtime: production dependencies and dist/ only, as a numeric non-root user (the Deployment's
# runAsNonRoot can only check a numeric one).
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER 65532:65532
EXPOSE 8080 8090
ENTRYPOINT ["node", "/app/bin/graylane.js"]
CMD ["controller"]

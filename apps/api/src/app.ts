// The Express application: public probes, then /api/v1 behind bearer auth and a rate limit, then
// the dashboard's static files with a single-page-app fallback. Errors all take one JSON shape.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import type { ApiDeps } from './deps.ts';
import { HttpError, errorHandler, notFound } from './errors.ts';
import { checkPathEncoding } from './path-encoding.ts';
import { checkJsonShape, checkQueryKeys, checkRequestFraming, noteInvalidUtf8, refuseDeclaredOversize, refuseInvalidUtf8 } from './validate.ts';
import { observeRequests } from './prometheus.ts';
import { rateLimit } from './rate-limit.ts';
import { datasetRoutes } from './routes/datasets.ts';
import { eventRoutes } from './routes/events.ts';
import { metaRoutes, publicRoutes } from './routes/meta.ts';
import { modelRoutes } from './routes/models.ts';
import { sweepRoutes } from './routes/sweeps.ts';
import { askTellRoutes } from './routes/ask-tell.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { projectRoutes } from './routes/projects.ts';

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'",
  );
  next();
};

export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.trustProxy);
  // Express 5's "simple" parser: no nested objects from query strings.
  app.set('query parser', 'simple');

  app.use(securityHeaders);
  app.use(observeRequests(deps.metrics, deps.logger));
  app.use(checkRequestFraming);

  app.use(publicRoutes(deps));

  const api = express.Router();
  // Per address before auth (a flood of bad tokens never reaches Postgres), per token after it.
  const { rps, burst } = deps.config.rateLimit;
  api.use(rateLimit({ limiter: deps.rateLimiter, rps: rps * 4, burst: burst * 4, by: 'address' }));
  api.use(deps.auth.middleware);
  api.use(rateLimit({ limiter: deps.rateLimiter, rps, burst, by: 'client' }));
  api.use(checkPathEncoding);
  api.use(checkQueryKeys);
  // application/json only: the routes take that type alone (415 otherwise), whatever the body holds.
  api.use(refuseDeclaredOversize(deps.config.maxBodyBytes, (req) => typeof req.is('application/json') === 'string'));
  api.use(express.json({ limit: deps.config.maxBodyBytes, type: 'application/json', verify: noteInvalidUtf8 }));
  api.use(refuseInvalidUtf8);
  api.use(checkJsonShape);
  api.use(sweepRoutes(deps));
  api.use(askTellRoutes(deps));
  api.use(modelRoutes(deps));
  api.use(eventRoutes(deps));
  api.use(datasetRoutes(deps));
  api.use(tokenRoutes(deps));
  api.use(projectRoutes(deps));
  api.use(metaRoutes(deps));
  api.use(notFound);
  app.use('/api/v1', api);
  // Anything else that names the API (/api/v2, //api/v1/me: not routed) gets JSON, never the app's page.
  app.use((req, _res, next) =>
    /^\/+api(?:\/|$)/i.test(req.path)
      ? next(new HttpError('not_found', `no route ${req.method} ${req.originalUrl.split('?')[0]} (the API lives under /api/v1)`, [{ path: 'path', message: 'no such route' }]))
      : next(),
  );

  const web = deps.config.webDist;
  if (web && existsSync(join(web, 'index.html'))) {
    app.use(express.static(web, { index: 'index.html', maxAge: '1h', setHeaders: (res, path) => path.endsWith('index.html') && res.setHeader('Cache-Control', 'no-cache') }));
    // Client-side routes (/sweeps/…) get the app; the app asks the API for the rest.
    app.get(/^\/(?!api\/).*/, (req, res, next) => {
      if (!req.accepts('html')) return next();
      res.setHeader('Cache-Control', 'no-cache');
      res.sendFile(join(web, 'index.html'));
    });
  }

  app.use(notFound);
  app.use(errorHandler(deps.logger));
  return app;
}

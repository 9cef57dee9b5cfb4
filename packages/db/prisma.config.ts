// Prisma CLI configuration for users who run the plain CLI (`npx prisma migrate deploy|status`) from packages/db.
// Prisma 7 reads the connection URL from here, not from schema.prisma, and does not load .env itself.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: '../../prisma/schema.prisma',
  migrations: { path: '../../prisma/migrations' },
  // Optional so that `prisma generate` works without a database; migrate commands need DATABASE_URL.
  datasource: { url: process.env.DATABASE_URL },
});

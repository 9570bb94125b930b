import * as z from 'zod/mini';

/** Team ids are UUIDs (any version); compared and stored lower-case. */
export const TeamIdSchema = z.pipe(
  z.string().check(z.regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'team id must be a UUID')),
  z.transform((s) => s.toLowerCase()));

export type TeamId = z.output<typeof TeamIdSchema>;

export function parseTeamId(value: unknown): TeamId | undefined {
  const r = TeamIdSchema.safeParse(value);
  return r.success ? r.data : undefined;
}

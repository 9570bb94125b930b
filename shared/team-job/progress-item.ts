import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type * as z from 'zod/mini';

/**
 * Where a schedule keeps its place between runs: one teams-table item per team (pk teamId, sk e.g.
 * `RECONCILE`), replaced whole on every commit, conditional on the revision read (`rev`). Two runs of one team
 * (a deferred item coming back beside the next hour's) therefore never both commit the same page: the loser
 * stops and the winner carries on.
 */
export class LostProgressRace extends Error {
  override name = 'LostProgressRace';
  constructor(sk: string) {
    super(`another run committed ${sk} first`);
  }
}

export class ProgressItem<S extends Record<string, unknown>> {
  private rev = 0;
  private current: S;

  private constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly teamId: string,
    private readonly sk: string,
    initial: S,
    rev: number,
  ) {
    this.current = initial;
    this.rev = rev;
  }

  /** Reads the item (consistent); an absent or unreadable item starts empty at revision 0. */
  static async load<T extends z.ZodMiniType<Record<string, unknown>>>(
    ddb: DynamoDBDocumentClient,
    table: string,
    teamId: string,
    sk: string,
    schema: T,
  ): Promise<ProgressItem<z.infer<T>>> {
    const out = await ddb.send(new GetCommand({ TableName: table, Key: { pk: teamId, sk }, ConsistentRead: true }));
    const item = out.Item ?? {};
    const parsed = schema.safeParse(item);
    const rev = typeof item.rev === 'number' ? item.rev : 0;
    return new ProgressItem(ddb, table, teamId, sk, parsed.success ? parsed.data : ({} as z.infer<T>), rev);
  }

  get state(): S {
    return this.current;
  }

  /** Replaces the state, or throws LostProgressRace when another run committed since it was read. */
  async commit(next: S): Promise<void> {
    const { pk: _pk, sk: _sk, rev: _rev, ...body } = next as Record<string, unknown>;
    try {
      await this.ddb.send(
        new PutCommand({
          TableName: this.table,
          Item: { ...body, rev: this.rev + 1, pk: this.teamId, sk: this.sk },
          ...(this.rev === 0
            ? { ConditionExpression: 'attribute_not_exists(rev)' }
            : { ConditionExpression: 'rev = :rev', ExpressionAttributeValues: { ':rev': this.rev } }),
        }),
      );
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) throw new LostProgressRace(this.sk);
      throw err;
    }
    this.rev++;
    this.current = next;
  }
}

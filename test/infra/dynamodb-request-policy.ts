import type { LabelledStatement } from './role-grants';
import { iamActionOf } from './handler-commands';

/**
 * What IAM sees of one DynamoDB request, for evaluating it against a role's statements the way the DynamoDB
 * condition keys are documented (developer guide, "Using IAM policy conditions for fine-grained access control"):
 * - dynamodb:Attributes: the top-level attribute names the request reads, writes or checks (key, projection,
 *   update, condition, key condition and filter expressions);
 * - dynamodb:Select: Query and Scan always carry one (ALL_ATTRIBUTES unless the request sets it);
 * - dynamodb:ReturnValues: writes always carry one (NONE unless the request sets it);
 * - dynamodb:LeadingKeys: the partition key value(s) the request addresses.
 * Deliberately strict where the documentation leaves room: a Query that projects attributes but does not set
 * Select is taken as ALL_ATTRIBUTES, so code under an attribute-scoped grant must say SPECIFIC_ATTRIBUTES.
 */
export interface DynamoRequest {
  action: string;
  /** Resource label as role-grants.ts names it, e.g. `table:teams`. */
  resource: string;
  attributes: string[];
  select?: string;
  returnValues?: string;
  leadingKeys: string[];
}

const KEYWORDS = new Set(['SET', 'ADD', 'REMOVE', 'DELETE', 'AND', 'OR', 'NOT', 'BETWEEN', 'IN']);

/** Top-level attribute names an expression refers to: `#name` placeholders resolved, paths cut at `.` and `[`. */
export function expressionAttributes(expression: string | undefined, names: Record<string, string> = {}): string[] {
  if (!expression) return [];
  const out: string[] = [];
  for (const m of expression.matchAll(/([.]?)(#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*)(\s*\()?/g)) {
    const [, dot, token, call] = m as unknown as [string, string, string, string | undefined];
    if (dot || token.startsWith(':') || call) continue; // a nested path segment, a value, a function
    if (token.startsWith('#')) {
      const name = names[token];
      if (name === undefined) throw new Error(`expression names ${token} but ExpressionAttributeNames does not`);
      out.push(name);
    } else if (!KEYWORDS.has(token.toUpperCase())) out.push(token);
  }
  return out;
}

type Input = Record<string, unknown> & {
  TableName?: string;
  Key?: Record<string, unknown>;
  Item?: Record<string, unknown>;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
};

/** The request a lib-dynamodb command input makes, given the table names' labels (`{ teams: 'table:teams' }`). */
export function requestOf(command: string, input: Input, tableLabels: Record<string, string>, partitionKey = 'pk'): DynamoRequest {
  const action = iamActionOf(`lib-dynamodb:${command}`);
  const resource = tableLabels[String(input.TableName)] ?? `UNKNOWN table ${String(input.TableName)}`;
  const names = input.ExpressionAttributeNames ?? {};
  const attributes = new Set<string>([
    ...Object.keys(input.Key ?? {}),
    ...Object.keys(input.Item ?? {}),
    ...['ProjectionExpression', 'UpdateExpression', 'ConditionExpression', 'KeyConditionExpression', 'FilterExpression'].flatMap((e) =>
      expressionAttributes(input[e] as string | undefined, names),
    ),
  ]);
  const leadingKeys: string[] = [];
  const keyValue = input.Key?.[partitionKey] ?? input.Item?.[partitionKey];
  if (keyValue !== undefined) leadingKeys.push(String(keyValue));
  const keyCondition = typeof input.KeyConditionExpression === 'string' ? /(?:^|\s)pk\s*=\s*(:[A-Za-z0-9_]+)/.exec(input.KeyConditionExpression) : null;
  if (keyCondition) leadingKeys.push(String(input.ExpressionAttributeValues?.[keyCondition[1]!]));
  const request: DynamoRequest = { action, resource, attributes: [...attributes].sort(), leadingKeys };
  if (action === 'dynamodb:Query' || action === 'dynamodb:Scan') request.select = typeof input.Select === 'string' ? input.Select : 'ALL_ATTRIBUTES';
  if (['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'].includes(action)) {
    request.returnValues = typeof input.ReturnValues === 'string' ? input.ReturnValues : 'NONE';
  }
  return request;
}

const list = (v: string | string[]): string[] => (Array.isArray(v) ? v : [v]);
const like = (pattern: string, value: string): boolean =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);

function contextValues(request: DynamoRequest, key: string): string[] | undefined {
  switch (key) {
    case 'dynamodb:Attributes':
      return request.attributes;
    case 'dynamodb:LeadingKeys':
      return request.leadingKeys;
    case 'dynamodb:Select':
      return request.select === undefined ? undefined : [request.select];
    case 'dynamodb:ReturnValues':
      return request.returnValues === undefined ? undefined : [request.returnValues];
    default:
      throw new Error(`condition key ${key} is not modelled`);
  }
}

function conditionHolds(condition: NonNullable<LabelledStatement['condition']>, request: DynamoRequest): boolean {
  return Object.entries(condition).every(([op, keys]) =>
    Object.entries(keys).every(([key, allowed]) => {
      const values = contextValues(request, key);
      const patterns = list(allowed);
      switch (op) {
        case 'ForAllValues:StringEquals':
          return (values ?? []).every((v) => patterns.includes(v));
        case 'ForAllValues:StringLike':
          return (values ?? []).every((v) => patterns.some((p) => like(p, v)));
        case 'StringEquals':
          return values !== undefined && values.length > 0 && values.every((v) => patterns.includes(v));
        case 'StringEqualsIfExists':
          return values === undefined || values.every((v) => patterns.includes(v));
        default:
          throw new Error(`condition operator ${op} is not modelled`);
      }
    }),
  );
}

/** Whether any statement allows the request (every statement is an Allow; the role has no Deny). */
export function allows(statements: readonly LabelledStatement[], request: DynamoRequest): boolean {
  return statements.some(
    (st) => st.actions.includes(request.action) && st.resources.includes(request.resource) && (st.condition === undefined || conditionHolds(st.condition, request)),
  );
}

/**
 * DynamoDB's item size rule (what write units are billed on): the UTF-8 bytes of every attribute name plus
 * its value. Strings: UTF-8 bytes; numbers: about one byte per two significant digits, plus one; booleans and
 * null: one byte; lists and maps: three bytes plus one per element, plus the elements (map keys count too).
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 */
export function attributeValueSize(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') {
    const digits = String(Math.abs(value)).replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
    return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
  }
  if (Array.isArray(value)) return 3 + value.reduce((sum: number, e) => sum + 1 + attributeValueSize(e), 0);
  return 3 + Object.entries(value as Record<string, unknown>).reduce((sum, [k, e]) => sum + 1 + Buffer.byteLength(k, 'utf8') + attributeValueSize(e), 0);
}

export function itemSize(item: Record<string, unknown>): number {
  return Object.entries(item).reduce((sum, [name, value]) => sum + Buffer.byteLength(name, 'utf8') + attributeValueSize(value), 0);
}

/**
 * The item an UpdateItem leaves behind on a new key: its Key plus every `SET a = :v` clause. Enough for
 * writeRecord's expressions (plain assignments, no functions or arithmetic).
 */
export function itemFromUpdate(input: {
  Key?: Record<string, unknown>;
  UpdateExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}): Record<string, unknown> {
  const item: Record<string, unknown> = { ...input.Key };
  const set = /^SET (.*?)(?: REMOVE .*)?$/.exec(input.UpdateExpression ?? '')?.[1] ?? '';
  for (const clause of set.split(', ')) {
    const [path, value] = clause.split(' = ') as [string, string];
    const name = path.startsWith('#') ? input.ExpressionAttributeNames?.[path] : path;
    if (name === undefined || !(value in (input.ExpressionAttributeValues ?? {}))) throw new Error(`cannot read SET clause ${clause}`);
    item[name] = input.ExpressionAttributeValues?.[value];
  }
  return item;
}

/**
 * us-east-1 list prices, no free tier, copied with their sources from the research anchors
 * (/work/shared/notes/anchors.md §C2, read Aug 2026); CloudWatch (logs, metrics, alarms, dashboards), X-Ray and the
 * monthly KMS key and secret prices from the pricing pages named (issue #14, Nov 2026). Re-check the pages before
 * quoting a figure to a customer.
 * `usd` is the price of `per` units.
 */
export interface Price {
  usd: number;
  per: number;
  unit: string;
  source: string;
}

export interface PriceTable {
  region: 'us-east-1';
  asOf: string;
  httpApiRequest: Price;
  lambdaRequest: Price;
  lambdaGbSecondArm64: Price;
  lambdaGbSecondX86: Price;
  sqsRequest: Price;
  dynamoDbWriteRequestUnit: Price;
  dynamoDbReadRequestUnit: Price;
  secretsManagerApiCall: Price;
  kmsRequest: Price;
  cloudWatchLogsIngestedGb: Price;
  cloudWatchLogsDataProtectionGb: Price;
  xrayTraceRecorded: Price;
  cloudWatchMetricMonth: Price;
  cloudWatchAlarmMonth: Price;
  cloudWatchDashboardMonth: Price;
  kmsKeyMonth: Price;
  secretsManagerSecretMonth: Price;
}

/** CloudWatch Logs bills ingested GB: the UTF-8 bytes of each event plus 26 bytes per event (PutLogEvents). */
export const BYTES_PER_GB = 1024 ** 3;

export const PRICES: PriceTable = {
  region: 'us-east-1',
  asOf: '2026-08 (first pricing tier, no free tier)',
  httpApiRequest: {
    usd: 1.0,
    per: 1_000_000,
    unit: 'HTTP API request, metered per 512 KB (first 300 M/month)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  lambdaRequest: { usd: 0.2, per: 1_000_000, unit: 'Lambda invocation', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaGbSecondArm64: { usd: 0.0000133334, per: 1, unit: 'Lambda GB-second, arm64 (first tier)', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaGbSecondX86: { usd: 0.0000166667, per: 1, unit: 'Lambda GB-second, x86_64 (first tier)', source: 'https://aws.amazon.com/lambda/pricing/' },
  sqsRequest: {
    usd: 0.4,
    per: 1_000_000,
    unit: 'SQS standard request; each 64 KB chunk of a payload is one request; a batch of up to 10 is one request',
    source: 'https://aws.amazon.com/sqs/pricing/',
  },
  dynamoDbWriteRequestUnit: {
    usd: 0.625,
    per: 1_000_000,
    unit: 'DynamoDB on-demand write request unit (1 KB), after the 1 Nov 2024 price cut',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  dynamoDbReadRequestUnit: {
    usd: 0.125,
    per: 1_000_000,
    unit: 'DynamoDB on-demand read request unit (4 KB strongly consistent, 2 x 4 KB eventually consistent)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  secretsManagerApiCall: { usd: 0.05, per: 10_000, unit: 'Secrets Manager API call', source: 'https://aws.amazon.com/secrets-manager/pricing/' },
  kmsRequest: { usd: 0.03, per: 10_000, unit: 'KMS symmetric request', source: 'https://aws.amazon.com/kms/pricing/' },
  cloudWatchLogsIngestedGb: {
    usd: 0.5,
    per: 1,
    unit: 'CloudWatch Logs ingested GB, Standard log class (event bytes + 26 bytes per event)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  cloudWatchLogsDataProtectionGb: {
    usd: 0.12,
    per: 1,
    unit: 'CloudWatch Logs data protection, GB of log events scanned (every log group of the stack has the PHI policy)',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  xrayTraceRecorded: { usd: 5.0, per: 1_000_000, unit: 'X-Ray trace recorded', source: 'https://aws.amazon.com/xray/pricing/' },
  cloudWatchMetricMonth: { usd: 0.3, per: 1, unit: 'CloudWatch custom metric-month (first 10,000)', source: 'https://aws.amazon.com/cloudwatch/pricing/' },
  cloudWatchAlarmMonth: { usd: 0.1, per: 1, unit: 'CloudWatch standard-resolution alarm-month (one metric)', source: 'https://aws.amazon.com/cloudwatch/pricing/' },
  cloudWatchDashboardMonth: { usd: 3.0, per: 1, unit: 'CloudWatch dashboard-month', source: 'https://aws.amazon.com/cloudwatch/pricing/' },
  kmsKeyMonth: { usd: 1.0, per: 1, unit: 'KMS customer-managed key-month', source: 'https://aws.amazon.com/kms/pricing/' },
  secretsManagerSecretMonth: { usd: 0.4, per: 1, unit: 'Secrets Manager secret-month', source: 'https://aws.amazon.com/secrets-manager/pricing/' },
};

export function priceOf(p: Price, quantity: number): number {
  return (quantity * p.usd) / p.per;
}

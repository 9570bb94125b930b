import { inventoryOf, type TemplateJson } from '../../../bench/stack-inventory';

const key = { 'Fn::GetAtt': ['Key', 'Arn'] };
const template: TemplateJson = {
  Resources: {
    Key: { Type: 'AWS::KMS::Key' },
    Ingest: { Type: 'AWS::SQS::Queue', Properties: { KmsMasterKeyId: key, KmsDataKeyReusePeriodSeconds: 300 } },
    IngestDlq: { Type: 'AWS::SQS::Queue', Properties: { KmsMasterKeyId: key, KmsDataKeyReusePeriodSeconds: 300 } },
    Plain: { Type: 'AWS::SQS::Queue', Properties: {} },
    Records: { Type: 'AWS::DynamoDB::Table', Properties: { SSESpecification: { SSEEnabled: true, KMSMasterKeyId: key } } },
    Alarm1: { Type: 'AWS::CloudWatch::Alarm' },
    Alarm2: { Type: 'AWS::CloudWatch::Alarm' },
    Dash: { Type: 'AWS::CloudWatch::Dashboard' },
    Secret: { Type: 'AWS::SecretsManager::Secret' },
    WebhookPolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        Roles: [{ Ref: 'WebhookRole' }],
        PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['Ingest', 'Arn'] } }] },
      },
    },
    SyncPolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        Roles: [{ Ref: 'SyncRole' }],
        PolicyDocument: {
          Statement: [
            { Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage'], Resource: { 'Fn::GetAtt': ['Ingest', 'Arn'] } },
            { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: [{ 'Fn::GetAtt': ['Ingest', 'Arn'] }, { 'Fn::GetAtt': ['Plain', 'Arn'] }] },
            { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Resource: { 'Fn::GetAtt': ['Records', 'Arn'] } },
            { Effect: 'Allow', Action: 'dynamodb:Query', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Records', 'Arn'] }, '/index/x']] } },
          ],
        },
      },
    },
  },
};

describe('inventoryOf', () => {
  it('counts alarms, dashboards, keys and secrets of the template', () => {
    expect(inventoryOf(template)).toMatchObject({ alarms: 2, dashboards: 1, kmsKeys: 1, secrets: 1, queueDataKeyReuseSeconds: 300 });
  });

  it('lists each role once per encrypted queue and direction, and once per encrypted table', () => {
    const inv = inventoryOf(template);
    expect(inv.queueKeyPrincipals).toEqual(['{"Ref":"SyncRole"} Ingest receive', '{"Ref":"SyncRole"} Ingest send', '{"Ref":"WebhookRole"} Ingest send']);
    expect(inv.tableKeyPrincipals).toEqual(['{"Ref":"SyncRole"} Records']);
  });
});

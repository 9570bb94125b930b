import { collectPhiValues, findPhi, mask } from '../../phi/phi-values';

describe('PHI log scan', () => {
  const patient = {
    id: 104857601,
    first_name: 'Jeanette',
    last_name: 'Doe',
    social_security_number: '123-45-6789',
    email: 'jeanette.doe@example.com',
    primary_insurance: { insurance_id_number: 'INS123456' },
    patient_flags_attached: [{ flag_text: 'Prefers morning appointments' }],
    gender: 'Female',
  };

  it('collects identifying values from nested objects and arrays', () => {
    const values = collectPhiValues(patient);
    expect(values).toEqual(
      new Set(['Jeanette', '123-45-6789', 'jeanette.doe@example.com', 'INS123456', 'Prefers morning appointments']),
    );
  });

  it('ignores values too short to identify anyone and keys that are not identifiers', () => {
    const values = collectPhiValues(patient);
    expect(values.has('Doe')).toBe(false);
    expect(values.has('Female')).toBe(false);
  });

  it('finds a PHI value in a log line regardless of case and reports its line', () => {
    const log = '{"level":"INFO","teamId":"t"}\n{"level":"ERROR","detail":"JEANETTE.DOE@example.com"}\n';
    const hits = findPhi(log, 'x.log', collectPhiValues(patient));
    expect(hits.map((h) => h.line)).toEqual([2, 2]);
    expect(hits.map((h) => h.masked)).toEqual(expect.arrayContaining([mask('jeanette.doe@example.com'), mask('Jeanette')]));
  });

  it('reports nothing for logs that carry only ids and outcomes', () => {
    const log = '{"level":"INFO","teamId":"3f1c","deliveryId":"d-1","drchronoId":"104857601","outcome":"created"}\n';
    expect(findPhi(log, 'x.log', collectPhiValues(patient))).toEqual([]);
  });

  it('masks the matched value so the report itself leaks nothing', () => {
    expect(mask('123-45-6789')).toBe('12********* (11 chars)');
  });
});

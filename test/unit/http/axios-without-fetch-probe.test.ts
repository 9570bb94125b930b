import { axios, withFetchGlobalsHidden } from '../../../shared/http/axios-without-fetch-probe';

const NAMES = ['Request', 'Response', 'FormData'] as const;
/**
 * What must come back: the same lazy getter (Node loads undici on its first read) and the same flags. Not the
 * setter: jest runs tests in a vm context, whose global wraps setters on every redefinition.
 */
const descriptors = () =>
  Object.fromEntries(
    NAMES.map((n) => {
      const d = Object.getOwnPropertyDescriptor(globalThis, n);
      return [n, d && { get: d.get, value: d.value, configurable: d.configurable, enumerable: d.enumerable }];
    }),
  );

describe('withFetchGlobalsHidden', () => {
  it('hides Request, Response and FormData while the load runs, so an axios-style probe finds no fetch classes', () => {
    const seen = withFetchGlobalsHidden(() => NAMES.map((n) => typeof (globalThis as Record<string, unknown>)[n]));
    expect(seen).toEqual(['undefined', 'undefined', 'undefined']);
  });

  it('puts back the very same property descriptors afterwards (lazy getters stay lazy)', () => {
    const before = descriptors();
    withFetchGlobalsHidden(() => undefined);
    expect(descriptors()).toEqual(before);
    expect(typeof Request).toBe('function');
  });

  it('puts them back when the load throws, and lets the error through', () => {
    const before = descriptors();
    expect(() =>
      withFetchGlobalsHidden(() => {
        throw new Error('load failed');
      }),
    ).toThrow('load failed');
    expect(descriptors()).toEqual(before);
  });

  it('removes again a global that did not exist before', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'FormData');
    delete (globalThis as Record<string, unknown>).FormData;
    try {
      withFetchGlobalsHidden(() => undefined);
      expect(Object.getOwnPropertyDescriptor(globalThis, 'FormData')).toBeUndefined();
    } finally {
      if (saved) Object.defineProperty(globalThis, 'FormData', saved);
    }
  });

  it('leaves a non-configurable global as it is rather than throwing', () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, 'Response');
    const fixed = function Response() {};
    Object.defineProperty(globalThis, 'Response', { value: fixed, configurable: false, writable: false });
    // A non-configurable property cannot be deleted or redefined, so this test restores nothing; it runs last.
    expect(withFetchGlobalsHidden(() => typeof (globalThis as Record<string, unknown>).Response)).toBe('function');
    expect((globalThis as Record<string, unknown>).Response).toBe(fixed);
    expect(saved).toBeDefined();
  });
});

describe('the axios it exports', () => {
  it('is the axios default export, with create and the http adapter', () => {
    expect(typeof axios.create).toBe('function');
    expect(typeof axios.getAdapter('http')).toBe('function');
  });
});

import { hideFetchGlobals, restoreFetchGlobals } from '../../../shared/http/fetch-globals-hidden';
import { axios } from '../../../shared/http/axios-without-fetch-probe';

const NAMES = ['Request', 'Response', 'FormData'] as const;
/**
 * What must come back: the same lazy getter (Node loads undici on its first read) and the same flags. Not the
 * setter: jest runs tests in a vm context, whose global wraps setters on every redefinition.
 */
const descriptors = (target: object = globalThis) =>
  Object.fromEntries(
    NAMES.map((n) => {
      const d = Object.getOwnPropertyDescriptor(target, n);
      return [n, d && { get: d.get, value: d.value, configurable: d.configurable, enumerable: d.enumerable }];
    }),
  );

describe('hideFetchGlobals and restoreFetchGlobals', () => {
  it('hide Request, Response and FormData, so an axios-style probe finds no fetch classes, then put back the same descriptors', () => {
    const before = descriptors();
    const saved = hideFetchGlobals();
    const seen = NAMES.map((n) => typeof (globalThis as Record<string, unknown>)[n]);
    restoreFetchGlobals(saved);
    expect(seen).toEqual(['undefined', 'undefined', 'undefined']);
    expect(descriptors()).toEqual(before);
    expect(typeof Request).toBe('function');
  });

  it('remove again a global that did not exist before', () => {
    const target: Record<string, unknown> = { Request: 1, Response: 2 };
    const saved = hideFetchGlobals(target);
    expect(Object.getOwnPropertyNames(target).sort()).toEqual(['FormData', 'Request', 'Response']);
    restoreFetchGlobals(saved, target);
    expect(target).toEqual({ Request: 1, Response: 2 });
    expect('FormData' in target).toBe(false);
  });

  it('leave a non-configurable global as it is rather than throwing', () => {
    const fixed = function Response() {};
    const target: Record<string, unknown> = {};
    Object.defineProperty(target, 'Response', { value: fixed, configurable: false, writable: false, enumerable: true });
    const saved = hideFetchGlobals(target);
    expect(target.Response).toBe(fixed);
    restoreFetchGlobals(saved, target);
    expect(target.Response).toBe(fixed);
    expect(Object.keys(target)).toEqual(['Response']);
  });

  it('put back what they hid when hiding fails part-way', () => {
    const target: Record<string, unknown> = { Request: 1 };
    const saved = hideFetchGlobals(target);
    restoreFetchGlobals(saved, target);
    Object.preventExtensions(target);
    // Request can be redefined; Response cannot be added to a non-extensible object.
    expect(() => hideFetchGlobals(target)).toThrow(TypeError);
    expect(target).toEqual({ Request: 1 });
  });
});

describe('axios-without-fetch-probe', () => {
  it('exports the axios default export, with create and the http adapter, and leaves the fetch globals in place', () => {
    expect(typeof axios.create).toBe('function');
    expect(typeof axios.getAdapter('http')).toBe('function');
    expect(NAMES.map((n) => typeof (globalThis as Record<string, unknown>)[n])).toEqual(['function', 'function', 'function']);
  });
});

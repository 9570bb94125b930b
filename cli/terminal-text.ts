/**
 * Text from DrChrono (ids, field values) printed to an operator's terminal. A control character could move the
 * cursor, recolour or rewrite what is shown (ESC sequences), and bidi overrides reorder it, so each is shown as an
 * escape instead: \x1b, \u202e. Unpaired surrogates print as \udXXX. Everything else is shown as is.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cs}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu;

export function terminalText(value: string): string {
  return value.replace(UNPRINTABLE, (ch) => {
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

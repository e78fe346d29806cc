/**
 * Characters that change how the text around them reads without being seen, by Unicode
 * category rather than a list: controls (Cc, C0 and C1), format characters (Cf: zero-width
 * and direction marks, bidi embeddings, overrides and isolates, the soft hyphen, U+061C,
 * U+180E, tag characters, the byte-order mark), line and paragraph separators (Zl, Zp), and
 * the other code points Unicode says to draw as nothing (Default_Ignorable_Code_Point: the
 * Hangul fillers, variation selectors). A device named with U+202E would reorder the sentence
 * the activity page builds around it; a name with U+2028 would break a mail's line.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu;

/** Whether the text holds a control or invisible character (a newline, a NUL, U+202E...): never wanted in a field, a path or a log. */
export function hasControlCharacters(text: string): boolean {
  INVISIBLE.lastIndex = 0;
  return INVISIBLE.test(text);
}

/** The text without controls, invisible formatting or direction overrides: for what people name and what browsers send. */
export function withoutInvisibleCharacters(text: string): string {
  return text.replace(INVISIBLE, "");
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const CONTROL = /[\u0000-\u001f\u007f]/g;

/**
 * Characters that change how the text around them reads without being seen: C0 and C1
 * controls, zero-width and direction marks (U+200B–U+200F), line and paragraph separators
 * and bidi embeddings and overrides (U+2028–U+202E), word joiners and invisible operators
 * (U+2060–U+2064), bidi isolates (U+2066–U+2069) and the byte-order mark. A device named
 * with U+202E would reorder the sentence the activity page builds around it.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/** Whether the text holds a control character (a newline, a NUL, DEL...): never wanted in a field, a path or a log. */
export function hasControlCharacters(text: string): boolean {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text);
}

/** The text without controls, invisible formatting or direction overrides: for what people name and what browsers send. */
export function withoutInvisibleCharacters(text: string): string {
  return text.replace(INVISIBLE, "");
}

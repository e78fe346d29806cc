import { z } from "zod";
import { hasControlCharacters } from "../package/site-kit-entry";
import { COMMON_PASSWORD_MESSAGE, isCommonPassword } from "./users/common-passwords";

/** Field name -> the message shown next to it. */
export type FieldErrors = Record<string, string>;

export type FormResult<T> = { ok: true; data: T } | { ok: false; errors: FieldErrors; input: Record<string, string> };

/**
 * Validates a posted form. Unknown fields are dropped; a field sent twice (an array) or as an
 * object fails like any other bad value, with the schema's message next to it.
 */
export function parseForm<S extends z.ZodObject>(schema: S, body: unknown): FormResult<z.infer<S>> {
  const source = typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  const result = schema.safeParse(source);
  if (result.success) return { ok: true, data: result.data };
  const errors: FieldErrors = {};
  for (const issue of result.error.issues) {
    const field = String(issue.path[0] ?? "form");
    errors[field] ??= issue.message;
  }
  // What the user typed, to show again: strings only, never a password.
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = source[key];
    if (typeof value === "string" && !/password/.test(key)) input[key] = value.slice(0, 500);
  }
  return { ok: false, errors, input };
}

/** A required text field: trimmed, bounded, no control characters. */
export function text(label: string, max: number, min = 1) {
  return z
    .string({ error: `${label} must be a single line of text.` })
    .trim()
    .min(min, min === 1 ? `Enter your ${label.toLowerCase()}.` : `${label} must be at least ${min} characters.`)
    .max(max, `${label} must be at most ${max} characters.`)
    .refine((v) => !hasControlCharacters(v), `${label} must not contain control or invisible characters.`);
}

export const email = z
  .string({ error: "Enter an email address." })
  .trim()
  .max(254, "Email must be at most 254 characters.")
  .pipe(z.email("Enter a valid email address, like name@example.com."));

/** NIST SP 800-63B: at least 8 characters; long passphrases welcome, up to a bound. */
export function password(label = "Password", min = 8) {
  return z
    .string({ error: `Enter your ${label.toLowerCase()}.` })
    .min(min, min === 1 ? `Enter your ${label.toLowerCase()}.` : `${label} must be at least ${min} characters.`)
    .max(256, `${label} must be at most 256 characters.`);
}

/** What newPassword asks, in the words every new-password field shows under it. */
export const PASSWORD_RULES = "At least 8 characters, and not one of the most common passwords.";

/** A password someone chooses (sign-up, password change): also refused when it is a common one. */
export function newPassword(label = "Password") {
  return password(label).refine((v) => !isCommonPassword(v), COMMON_PASSWORD_MESSAGE);
}

export const csrfField = { _csrf: z.unknown().optional() };

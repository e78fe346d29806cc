import { dictionary } from "@zxcvbn-ts/language-common";

let common: Set<string> | undefined;

/**
 * Whether a password is on the list of the most common ones (ASVS 6.2.4): the 49,000 of
 * zxcvbn-ts's maintained list, compared without regard to case, since guessing tools try every
 * casing of them first. Loaded on first use and kept in memory (about 3 MB), so a check is one
 * lookup and nothing leaves the process.
 */
export function isCommonPassword(password: string): boolean {
  common ??= new Set(dictionary["passwords-common"].map((p) => p.toLowerCase()));
  return common.has(password.normalize("NFKC").toLowerCase());
}

export const COMMON_PASSWORD_MESSAGE =
  "This is one of the most common passwords, which attackers try first. Choose something less predictable, such as a few unrelated words.";

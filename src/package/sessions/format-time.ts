const FORMAT = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", dateStyle: "medium", timeStyle: "short" });

/** "27 Nov 2026, 13:40 UTC": one zone for every reader, since the server cannot know theirs. */
export function formatTime(ms: number): string {
  return `${FORMAT.format(new Date(ms))} UTC`;
}

// Formatting helpers for event fields, which are untrusted input.

/** Only http(s) URLs may become links or media sources; anything else is shown as text. */
export function safeHttpUrl(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** "2026-11-25 05:01:02" -> "05:01:02" when it is `today` ("2026-11-25"), else unchanged. */
export function shortTime(time: string, today: string): string {
  return time.startsWith(`${today} `) ? time.slice(today.length + 1) : time;
}

/** Today's date as YYYY-MM-DD in local time, the same shape as the event's `time`. */
export function localDate(now: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

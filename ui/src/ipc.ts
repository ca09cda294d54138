// The only place the UI talks to the Rust side. Commands, events and their types are generated
// from the Rust side (src/bindings.ts, by tauri-specta), never hand-copied.
import type { UnlistenFn } from "@tauri-apps/api/event";
import { commands, events, type EventView, type IpcError } from "./bindings";

export { commands, events };

/** True inside the Tauri window; false in a plain browser (e.g. `vite` alone). */
export function insideTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

/** A command's result: its data, or a thrown IpcError-shaped value. */
export async function unwrap<T>(
  result: Promise<{ status: "ok"; data: T } | { status: "error"; error: IpcError }>,
): Promise<T> {
  const r = await result;
  if (r.status === "error") throw r.error;
  return r.data;
}

/** The newest `limit` cached events, newest first. */
export function listEvents(limit: number): Promise<EventView[]> {
  return unwrap(commands.recentEvents(limit));
}

/** Calls `onChange` whenever the cache changed; returns the function that stops listening. */
export function onEventsChanged(onChange: (changed: number) => void): Promise<UnlistenFn> {
  return events.eventsChanged.listen((e) => onChange(e.payload.changed));
}

/** A readable message from whatever a command rejected with. */
export function errorText(err: unknown): string {
  if (typeof err === "object" && err !== null && "message" in err) {
    const e = err as Partial<IpcError>;
    return e.kind ? `${e.message} (${e.kind})` : String(e.message);
  }
  return String(err);
}

// The only place the UI talks to the Rust side. Types come from generated bindings
// (src/bindings, written by ts-rs from the Rust types), never from hand copies.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { MotionEvent } from "./bindings/MotionEvent";
import type { IpcError } from "./bindings/IpcError";

/** True inside the Tauri window; false in a plain browser (e.g. `vite` alone). */
export function insideTauri(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

/** The newest `limit` cached events, newest first. */
export function listEvents(limit: number): Promise<MotionEvent[]> {
  return invoke<MotionEvent[]>("list_events", { limit });
}

/** Calls `onChange` whenever the cache changed; returns the function that stops listening. */
export function onEventsChanged(onChange: (changed: number) => void): Promise<UnlistenFn> {
  return listen<number>("events-changed", (e) => onChange(e.payload));
}

/** A readable message from whatever a command rejected with. */
export function errorText(err: unknown): string {
  if (typeof err === "object" && err !== null && "message" in err) {
    const e = err as Partial<IpcError>;
    return e.kind ? `${e.message} (${e.kind})` : String(e.message);
  }
  return String(err);
}

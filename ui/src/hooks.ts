import { useCallback, useEffect, useRef, useState } from "react";
import type { UnlistenFn } from "@tauri-apps/api/event";

/**
 * Listens to a Rust-side event while the component is mounted. `subscribe` is one of ipc.ts's
 * `on…` functions (stable); `handler` may change on every render, the newest one is called.
 */
export function useIpcEvent<T>(
  subscribe: (cb: (payload: T) => void) => Promise<UnlistenFn>,
  handler: (payload: T) => void,
  onError?: (err: unknown) => void,
): void {
  const latest = useRef(handler);
  const latestError = useRef(onError);
  useEffect(() => {
    latest.current = handler;
    latestError.current = onError;
  });
  useEffect(() => {
    let stopped = false;
    let unlisten: UnlistenFn | null = null;
    subscribe((payload) => {
      if (!stopped) latest.current(payload);
    })
      .then((stop) => {
        if (stopped) stop();
        else unlisten = stop;
      })
      .catch((err: unknown) => latestError.current?.(err));
    return () => {
      stopped = true;
      unlisten?.();
    };
  }, [subscribe]);
}

/** The current time (Unix ms), updated every `intervalMs` while `active`. */
export function useNow(intervalMs: number, active = true): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const tick = () => setNow(Date.now());
    const timer = setInterval(tick, intervalMs);
    const first = setTimeout(tick, 0);
    return () => {
      clearInterval(timer);
      clearTimeout(first);
    };
  }, [intervalMs, active]);
  return now;
}

/** `value`, once it stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/** Calls `fn` every `ms` while mounted (the newest `fn`). */
export function useInterval(fn: () => void, ms: number): void {
  const latest = useRef(fn);
  useEffect(() => {
    latest.current = fn;
  });
  useEffect(() => {
    const timer = setInterval(() => latest.current(), ms);
    return () => clearInterval(timer);
  }, [ms]);
}

/**
 * `fn` (the newest one) at most once every `ms`: a call after a quiet `ms` runs at once, calls
 * within the wait are folded into one at its end. For reads that a signal may ask for many
 * times a second (a thousand cameras' heartbeats) but that a person needs only every so often.
 */
export function useThrottled(fn: () => void, ms: number): () => void {
  const latest = useRef(fn);
  useEffect(() => {
    latest.current = fn;
  });
  const state = useRef<{ last: number; timer: ReturnType<typeof setTimeout> | null }>({ last: -Infinity, timer: null });
  useEffect(() => {
    const s = state.current;
    return () => {
      if (s.timer !== null) clearTimeout(s.timer);
      s.timer = null;
    };
  }, []);
  return useCallback(() => {
    const s = state.current;
    if (s.timer !== null) return;
    const run = () => {
      s.timer = null;
      s.last = Date.now();
      latest.current();
    };
    const wait = s.last + ms - Date.now();
    if (wait <= 0) run();
    else s.timer = setTimeout(run, wait);
  }, [ms]);
}

/**
 * Numbers a component's requests so that only the newest one's answer is used; `cancel` (on
 * unmount) drops every answer still in flight. `busy` tracks one request at a time (paging).
 */
export class Requests {
  private n = 0;
  private inflight: number | null = null;
  next(): number {
    return ++this.n;
  }
  current(): number {
    return this.n;
  }
  isLatest(id: number): boolean {
    return id === this.n;
  }
  cancel(): void {
    this.n++;
    this.inflight = null;
  }
  /** Marks request `id` as the one in flight; false when one of this generation already is. */
  begin(id: number): boolean {
    if (this.inflight === id) return false;
    this.inflight = id;
    return true;
  }
  end(id: number): void {
    if (this.inflight === id) this.inflight = null;
  }
}

/** A `Requests` that lives as long as the component. */
export function useRequests(): Requests {
  const [requests] = useState(() => new Requests());
  return requests;
}

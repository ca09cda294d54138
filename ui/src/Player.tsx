import { useCallback, useEffect, useRef, useState, type KeyboardEvent, type RefObject } from "react";
import type { ClipProgress, ClipSource, EventView } from "./bindings";
import { bytes, eventLocalTime, safeHttpUrl } from "./format";
import { useIpcEvent, useRequests } from "./hooks";
import {
  cacheClip,
  clipFileSrc,
  errorText,
  getEvent,
  onClipProgress,
  onEventsChanged,
  openClip,
  saveClip,
} from "./ipc";

/** How far ← and → seek, in seconds. */
export const SEEK_S = 5;

interface Props {
  /** The list the player was opened from (newest first); previous/next move within it. */
  list: EventView[];
  index: number;
  onIndex: (index: number) => void;
  onClose: () => void;
}

/** The clip of one event, over the current view; Escape closes it. */
export function Player({ list, index, onIndex, onClose }: Props) {
  const view = list[index];
  const dialog = useRef<HTMLDivElement>(null);
  const video = useRef<HTMLVideoElement>(null);
  const hasPrev = index > 0;
  const hasNext = index + 1 < list.length;
  const prev = useCallback(() => {
    if (index > 0) onIndex(index - 1);
  }, [index, onIndex]);
  const next = useCallback(() => {
    if (index + 1 < list.length) onIndex(index + 1);
  }, [index, list.length, onIndex]);

  useEffect(() => {
    dialog.current?.focus();
  }, []);

  // Capture phase: the keys work wherever the focus is in the player (also on the video, whose
  // own controls must not handle the same key a second time), except in a control that needs them.
  const onKeyDownCapture = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const target = e.target as HTMLElement;
    const control = target.closest("button, input, select, textarea, a") !== null;
    const v = video.current;
    switch (e.key) {
      case "Escape":
        onClose();
        break;
      case " ":
      case "Spacebar":
        if (control || !v) return;
        if (v.paused) void v.play().catch(() => undefined);
        else v.pause();
        break;
      case "ArrowLeft":
      case "ArrowRight": {
        if ((control && target.tagName !== "BUTTON") || !v) return;
        const delta = e.key === "ArrowLeft" ? -SEEK_S : SEEK_S;
        const end = Number.isFinite(v.duration) ? v.duration : Number.POSITIVE_INFINITY;
        v.currentTime = Math.min(end, Math.max(0, v.currentTime + delta));
        break;
      }
      case "[":
      case "PageUp":
        prev();
        break;
      case "]":
      case "PageDown":
        next();
        break;
      default:
        return;
    }
    e.preventDefault();
    e.stopPropagation();
  };

  if (!view) return null;
  const ev = view.event;
  return (
    <div className="player-backdrop">
      <div
        ref={dialog}
        className="player"
        role="dialog"
        aria-modal="true"
        aria-labelledby="player-title"
        tabIndex={-1}
        data-testid="player"
        data-event-id={ev.event_id}
        onKeyDownCapture={onKeyDownCapture}
      >
        <header className="player-head">
          <h2 id="player-title">
            <span className="event-camera">{ev.device_name}</span>{" "}
            <time className="event-time">{eventLocalTime(ev)}</time>
          </h2>
          <button type="button" onClick={onClose} data-testid="player-close" aria-keyshortcuts="Escape">
            Close
          </button>
        </header>
        <p className="event-message">{ev.message}</p>
        {/* One body per event: its clip state starts fresh when the event changes. */}
        <PlayerBody key={ev.event_id} initial={view} videoRef={video} />
        <nav className="player-nav" aria-label="Other events">
          <button
            type="button"
            data-testid="player-prev"
            onClick={prev}
            disabled={!hasPrev}
            aria-keyshortcuts="[ PageUp"
            title="Previous event in the list (newer) — [ or PageUp"
          >
            ← Previous
          </button>
          <span className="muted">
            {index + 1} of {list.length}
          </span>
          <button
            type="button"
            data-testid="player-next"
            onClick={next}
            disabled={!hasNext}
            aria-keyshortcuts="] PageDown"
            title="Next event in the list (older) — ] or PageDown"
          >
            Next →
          </button>
        </nav>
        <p className="hint muted">
          Space: play/pause · ←/→: seek {SEEK_S} s · [ / ]: previous/next event · Esc: close
        </p>
      </div>
    </div>
  );
}

type Offline =
  | { state: "idle" }
  | { state: "starting" }
  | { state: "loading"; received: number; total: number | null }
  | { state: "done" }
  | { state: "failed"; error: string };

function PlayerBody({
  initial,
  videoRef,
}: {
  initial: EventView;
  videoRef: RefObject<HTMLVideoElement | null>;
}) {
  const id = initial.event.event_id;
  const [view, setView] = useState(initial);
  const [clip, setClip] = useState<ClipSource | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState<{ path: string } | { error: string } | { saving: true } | null>(null);
  const [offline, setOffline] = useState<Offline>({ state: "idle" });
  const [playError, setPlayError] = useState<string | null>(null);
  // A presigned URL expires (S3 then refuses it) while the player is open: the next request
  // for the clip (a seek, a reload) fails. The URL that last loaded, whether a fresh one was
  // already asked for, and where to resume once it loads.
  const loaded = useRef<string | null>(null);
  const refreshed = useRef(false);
  const resumeAt = useRef(0);
  const requests = useRequests();

  const load = useCallback(() => {
    const request = requests.next();
    openClip(id)
      .then((c) => {
        if (!requests.isLatest(request)) return;
        setClip(c);
        setError(null);
      })
      .catch((err: unknown) => {
        if (requests.isLatest(request)) setError(errorText(err));
      });
  }, [id, requests]);

  useEffect(() => {
    load();
    return () => {
      requests.cancel();
    };
  }, [load, requests]);

  // A pending clip may have arrived: read the event and its clip again.
  useIpcEvent(onEventsChanged, () => {
    if (clip !== null && !clip.pending) return;
    getEvent(id)
      .then(setView)
      .catch(() => undefined);
    load();
  });

  useIpcEvent(onClipProgress, (p: ClipProgress) => {
    if (p.event_id !== id) return;
    if (p.error !== null) setOffline({ state: "failed", error: p.error });
    else if (p.done) setOffline({ state: "done" });
    else setOffline({ state: "loading", received: p.received, total: p.total });
  });

  const src = clip?.file ? clipFileSrc(clip.file) : safeHttpUrl(clip?.url);
  const snapshot = safeHttpUrl(view.snapshot_src);
  const isOffline = view.clip_cached || Boolean(clip?.file) || offline.state === "done";
  const canFetch = clip !== null && !clip.pending && (clip.file !== null || clip.url !== null);

  const onVideoLoaded = () => {
    const v = videoRef.current;
    loaded.current = src ?? null;
    setPlayError(null);
    if (v && resumeAt.current > 0) v.currentTime = resumeAt.current;
    resumeAt.current = 0;
  };
  const onVideoError = () => {
    // Presign again when a URL that played fails (it expired), or the first URL ever fails (it
    // may have expired before it loaded); never twice in a row for URLs that never played.
    const presigned = clip !== null && clip.file === null && clip.url !== null;
    if (presigned && (loaded.current === src || !refreshed.current)) {
      refreshed.current = true;
      resumeAt.current = videoRef.current?.currentTime ?? 0;
      loaded.current = null;
      load();
      return;
    }
    setPlayError("The clip did not load: the server refused it, or it is not a playable video.");
  };

  const makeOffline = () => {
    setOffline({ state: "starting" });
    cacheClip(id).catch((err: unknown) => setOffline({ state: "failed", error: errorText(err) }));
  };
  const download = () => {
    setSaved({ saving: true });
    saveClip(id)
      .then((path) => setSaved({ path }))
      .catch((err: unknown) => setSaved({ error: errorText(err) }));
  };

  return (
    <div className="player-body">
      {error !== null ? (
        <p className="error" role="alert">
          Cannot open the clip: {error}
        </p>
      ) : null}
      {clip === null && error === null ? <p className="empty">Opening the clip…</p> : null}
      {src ? (
        <video
          ref={videoRef}
          key={src}
          data-testid="player-video"
          className="player-video"
          controls
          preload="metadata"
          src={src}
          poster={snapshot ?? undefined}
          onLoadedMetadata={onVideoLoaded}
          onError={onVideoError}
        />
      ) : clip?.pending ? (
        <div className="player-pending" data-testid="player-pending">
          {snapshot ? <img src={snapshot} alt="Snapshot of the motion" referrerPolicy="no-referrer" /> : null}
          <p className="badge badge-pending">clip pending</p>
          <p className="muted">
            The camera is still recording or uploading this clip. It plays here as soon as it
            arrives.
          </p>
        </div>
      ) : clip !== null && !clip.problem ? (
        <p className="empty">This event has no playable clip.</p>
      ) : null}
      {playError !== null ? (
        <p className="error" role="alert" data-testid="player-error">
          {playError}
        </p>
      ) : null}
      {clip?.problem ? (
        <p className="error" role="alert" data-testid="player-problem">
          {clip.problem}
        </p>
      ) : null}
      <div className="player-actions">
        <button type="button" data-testid="player-download" onClick={download} disabled={!canFetch || (saved !== null && "saving" in saved)}>
          Download
        </button>
        <button
          type="button"
          data-testid="player-offline"
          onClick={makeOffline}
          disabled={!canFetch || isOffline || offline.state === "starting" || offline.state === "loading"}
        >
          {isOffline ? "Available offline ✓" : "Make available offline"}
        </button>
        <OfflineProgress offline={offline} />
      </div>
      {saved !== null ? (
        "path" in saved ? (
          <p className="ok" role="status" data-testid="player-saved">
            Saved to {saved.path}
          </p>
        ) : "error" in saved ? (
          <p className="error" role="alert">
            Cannot save the clip: {saved.error}
          </p>
        ) : (
          <p className="muted" role="status">
            Saving…
          </p>
        )
      ) : null}
    </div>
  );
}

function OfflineProgress({ offline }: { offline: Offline }) {
  switch (offline.state) {
    case "idle":
    case "done":
      return null;
    case "starting":
      return <span className="muted">Starting download…</span>;
    case "loading":
      return (
        <span className="progress" data-testid="player-offline-progress">
          {offline.total ? (
            <progress value={offline.received} max={offline.total} />
          ) : (
            <progress />
          )}{" "}
          {bytes(offline.received)}
          {offline.total ? ` of ${bytes(offline.total)}` : ""}
        </span>
      );
    case "failed":
      return (
        <span className="error" role="alert">
          Not saved for offline use: {offline.error}
        </span>
      );
  }
}

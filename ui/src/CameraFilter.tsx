import { useMemo, useState } from "react";
import type { DeviceView } from "./bindings";

/** Up to this many cameras are all listed as checkboxes; more get a search field. */
export const ALL_LISTED_MAX = 12;
/** With the search field, at most this many unchosen cameras are listed at a time. */
export const MATCHES_SHOWN = 20;

interface Props {
  cameras: DeviceView[];
  /** Chosen device ids; empty means all cameras. */
  chosen: string[];
  onToggle: (deviceId: string, on: boolean) => void;
}

/**
 * History's camera filter. A home's handful of cameras are checkboxes; a fleet's thousand
 * would bury the results under a wall of them (and cost the window a second to lay out), so
 * past a dozen the chosen cameras stay listed and the rest are found by name.
 */
export function CameraFilter({ cameras, chosen, onToggle }: Props) {
  const [find, setFind] = useState("");
  const searchable = cameras.length > ALL_LISTED_MAX;
  const { listed, matches, more } = useMemo(
    () => (searchable ? camerasToList(cameras, chosen, find) : { listed: cameras, matches: cameras.length, more: 0 }),
    [searchable, cameras, chosen, find],
  );
  if (cameras.length === 0) return null;

  return (
    <fieldset className="cameras">
      <legend>Cameras {chosen.length === 0 ? "(all)" : `(${chosen.length} of ${cameras.length})`}</legend>
      {searchable ? (
        <input
          type="search"
          className="camera-find"
          data-testid="history-camera-find"
          aria-label="Find cameras by name"
          placeholder={`Find among ${cameras.length} cameras`}
          value={find}
          onChange={(e) => setFind(e.target.value)}
        />
      ) : null}
      {listed.map((c) => (
        <label key={c.device_id} className="check">
          <input
            type="checkbox"
            data-testid="history-camera"
            value={c.device_id}
            checked={chosen.includes(c.device_id)}
            onChange={(e) => onToggle(c.device_id, e.target.checked)}
          />
          {c.device_name}
        </label>
      ))}
      {more > 0 ? (
        <span className="muted" data-testid="history-camera-more">
          {more} more {find.trim() === "" ? "cameras: type a name to find them" : "match: type more to narrow"}
        </span>
      ) : null}
      {searchable && find.trim() !== "" && matches === 0 ? (
        <span className="muted" data-testid="history-camera-none">
          No other camera's name or id contains “{find.trim()}”.
        </span>
      ) : null}
    </fieldset>
  );
}

/**
 * The chosen cameras (always, so they can be unticked), then up to [`MATCHES_SHOWN`] others
 * whose name or id contains `find` (any case); `matches` counts the unchosen cameras that
 * match, `more` those of them left out.
 */
export function camerasToList(
  cameras: DeviceView[],
  chosen: string[],
  find: string,
): { listed: DeviceView[]; matches: number; more: number } {
  const found = cameraSearch(find);
  const picked = new Set(chosen);
  const listed = cameras.filter((c) => picked.has(c.device_id));
  let shown = 0;
  let more = 0;
  for (const c of cameras) {
    if (picked.has(c.device_id)) continue;
    if (!found(c)) continue;
    if (shown < MATCHES_SHOWN) {
      listed.push(c);
      shown++;
    } else {
      more++;
    }
  }
  return { listed, matches: shown + more, more };
}

/** A test for cameras whose name or id contains `find` (trimmed, any case); all when empty. */
export function cameraSearch(find: string): (c: DeviceView) => boolean {
  const needle = find.trim().toLowerCase();
  return (c) => needle === "" || c.device_name.toLowerCase().includes(needle) || c.device_id.toLowerCase().includes(needle);
}

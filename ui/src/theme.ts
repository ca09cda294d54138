import { useCallback, useEffect, useState } from "react";

export type ThemeChoice = "auto" | "light" | "dark";
export const THEME_KEY = "motion-in-motion.theme";

function readChoice(): ThemeChoice {
  try {
    const v = localStorage.getItem(THEME_KEY);
    return v === "light" || v === "dark" ? v : "auto";
  } catch {
    return "auto";
  }
}

function systemDark(): boolean {
  return typeof matchMedia === "function" && matchMedia("(prefers-color-scheme: dark)").matches;
}

/**
 * The color theme: the system's (`prefers-color-scheme`) unless the user picked one, which is
 * kept in localStorage. Sets `data-theme` on <html>; the CSS does the rest.
 */
export function useTheme(): { choice: ThemeChoice; effective: "light" | "dark"; cycle: () => void } {
  const [choice, setChoice] = useState<ThemeChoice>(readChoice);
  const [dark, setDark] = useState(systemDark);

  useEffect(() => {
    if (typeof matchMedia !== "function") return;
    const mq = matchMedia("(prefers-color-scheme: dark)");
    const changed = () => setDark(mq.matches);
    mq.addEventListener("change", changed);
    return () => mq.removeEventListener("change", changed);
  }, []);

  const effective = choice === "auto" ? (dark ? "dark" : "light") : choice;
  useEffect(() => {
    document.documentElement.dataset.theme = effective;
  }, [effective]);

  const cycle = useCallback(() => {
    setChoice((c) => {
      const next: ThemeChoice = c === "auto" ? "light" : c === "light" ? "dark" : "auto";
      try {
        if (next === "auto") localStorage.removeItem(THEME_KEY);
        else localStorage.setItem(THEME_KEY, next);
      } catch {
        // Storage may be unavailable; the choice still holds for this session.
      }
      return next;
    });
  }, []);
  return { choice, effective, cycle };
}

/** Sets the theme before the first render, so that a dark system never flashes light. */
export function applyInitialTheme(): void {
  const choice = readChoice();
  document.documentElement.dataset.theme = choice === "auto" ? (systemDark() ? "dark" : "light") : choice;
}

/** The views of the window, in the nav's order (Alt+1 … Alt+5). */
export const VIEWS = [
  { name: "live", label: "Live" },
  { name: "history", label: "History" },
  { name: "devices", label: "Devices" },
  { name: "charts", label: "Charts" },
  { name: "settings", label: "Settings" },
] as const;

export type ViewName = (typeof VIEWS)[number]["name"];

/** Small line icons for the navigation (24×24, stroke = currentColor). Add a name here for a new screen. */
const PATHS = {
  overview: "M4 13h4v7H4zM10 4h4v16h-4zM16 9h4v11h-4z",
  live: "M3 12h4l3-8 4 16 3-8h4",
  keys: "M15 7a4 4 0 1 1-3.9 4.9L4 19v2h3v-2h2v-2h2l1.1-1.1A4 4 0 0 1 15 7z",
  projects: "M4 6h6l2 2h8v11H4z",
  chart: "M4 19V5M4 19h16M8 15l4-5 3 3 5-6",
  funnel: "M4 5h16l-6 7v6l-4 2v-8z",
  grid: "M4 4h7v7H4zM13 4h7v7h-7zM4 13h7v7H4zM13 13h7v7h-7z",
  sessions: "M12 7v5l3 2M21 12a9 9 0 1 1-18 0 9 9 0 0 1 18 0z",
  persons: "M16 19v-1a4 4 0 0 0-8 0v1M12 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z",
  events: "M5 6h14M5 12h14M5 18h9",
  members: "M17 19v-1a4 4 0 0 0-3-3.9M7 19v-1a4 4 0 0 1 8 0v1M11 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM17 5a3 3 0 0 1 0 6",
  settings: "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM19 12l2-1-1-3-2 .3-1.3-1.5.3-2-3-1-1 2h-2l-1-2-3 1 .3 2L5.7 7.3 4 7l-1 3 2 1v2l-2 1 1 3 2-.3 1.3 1.5-.3 2 3 1 1-2h2l1 2 3-1-.3-2 1.5-1.3 2 .3 1-3-2-1z",
  sun: "M12 4V2M12 22v-2M4 12H2M22 12h-2M5.6 5.6 4.2 4.2M19.8 19.8l-1.4-1.4M5.6 18.4l-1.4 1.4M19.8 4.2l-1.4 1.4M12 17a5 5 0 1 0 0-10 5 5 0 0 0 0 10z",
  moon: "M20 14.5A8 8 0 0 1 9.5 4 8 8 0 1 0 20 14.5z",
  monitor: "M3 5h18v11H3zM8 20h8M12 16v4",
  logout: "M15 17l5-5-5-5M20 12H9M12 20H5V4h7",
  bell: "M18 16V11a6 6 0 0 0-12 0v5l-2 2h16zM10 20a2 2 0 0 0 4 0",
} as const;

export type IconName = keyof typeof PATHS;

export function Icon({ name, size = 18 }: { name: IconName; size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="1.8"
      strokeLinecap="round" strokeLinejoin="round" aria-hidden="true" className="icon">
      <path d={PATHS[name]} />
    </svg>
  );
}

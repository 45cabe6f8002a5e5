/** How a person is named and summarised on the persons screens. */

export interface PersonSummary {
  id: string;
  distinctIds: string[];
  traits: Record<string, unknown>;
  isIdentified: boolean;
  firstSeen: string;
  lastSeen: string;
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() ? value.trim() : null;
}

/** The best human name: name traits, then email, then the first distinct id. */
export function personName(person: { traits: Record<string, unknown>; distinctIds: string[]; id: string }): string {
  const traits = person.traits ?? {};
  const full = [text(traits["firstName"]), text(traits["lastName"])].filter(Boolean).join(" ");
  return text(traits["name"]) ?? (full || null) ?? text(traits["email"]) ?? person.distinctIds[0] ?? person.id;
}

export function traitValue(value: unknown): string {
  if (value === null || value === undefined) return "–";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** "email: ada@example.com · plan: pro · …", the first few traits. */
export function traitSummary(traits: Record<string, unknown>, count = 3): string {
  const entries = Object.entries(traits ?? {});
  const shown = entries.slice(0, count).map(([key, value]) => `${key}: ${traitValue(value)}`);
  return shown.join(" · ") + (entries.length > count ? ` · +${entries.length - count} more` : "");
}

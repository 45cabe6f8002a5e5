/**
 * The project's event names and the properties seen on them (eventDefinitions), for the event,
 * property and breakdown pickers of the insight and funnel builders.
 */
import { useMemo } from "react";
import { gql, useQuery, type CombinedError } from "urql";
import { ENRICHED_PROPERTIES } from "./params";

interface EventDefinition {
  event: string;
  volume: number;
  properties: { name: string; type: string }[];
}

const DEFINITIONS = gql`
  query InsightEventDefinitions($projectId: ID!) {
    eventDefinitions(projectId: $projectId) { event volume properties { name type } }
  }
`;

export interface Definitions {
  /** Event names, most frequent first. */
  events: string[];
  /** Numeric properties of one event (or of every event for null). */
  numericProperties: (event: string | null) => string[];
  /** Every property key seen on events, then the enriched ones. */
  propertyKeys: string[];
  fetching: boolean;
  error: CombinedError | undefined;
  refresh: () => void;
}

export function useDefinitions(projectId: string): Definitions {
  const [result, reexecute] = useQuery<{ eventDefinitions: EventDefinition[] }>({
    query: DEFINITIONS,
    variables: { projectId },
    requestPolicy: "cache-and-network",
  });
  const definitions = useMemo(() => result.data?.eventDefinitions ?? [], [result.data]);
  return useMemo(() => {
    const events = [...definitions].sort((a, b) => b.volume - a.volume || a.event.localeCompare(b.event)).map((d) => d.event);
    const numericProperties = (event: string | null) => {
      const names = new Set<string>();
      for (const definition of definitions) {
        if (event !== null && definition.event !== event) continue;
        for (const property of definition.properties) if (property.type === "number") names.add(property.name);
      }
      return [...names].sort();
    };
    const keys = new Set<string>();
    for (const definition of definitions) for (const property of definition.properties) keys.add(property.name);
    const propertyKeys = [...[...keys].sort(), ...ENRICHED_PROPERTIES.filter((key) => !keys.has(key))];
    return {
      events,
      numericProperties,
      propertyKeys,
      fetching: result.fetching && !result.data,
      error: result.error,
      refresh: () => reexecute({ requestPolicy: "network-only" }),
    };
  }, [definitions, result.fetching, result.data, result.error, reexecute]);
}
